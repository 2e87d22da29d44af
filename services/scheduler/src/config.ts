import { Type, type Static } from '@sinclair/typebox';
import { CommonConfig } from '@swarmboot/kit';
import { DefaultPorts } from '@swarmboot/contracts';

/** Environment of `swarmboot scheduler`, parsed once by `parseConfig(SchedulerConfig, env)` in main.ts. */
export const SchedulerConfig = Type.Object({
  ...CommonConfig,
  SWARMBOOT_SCHEDULER_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.scheduler}`, description: 'host:port of the REST API' }),
  SWARMBOOT_PUBLIC_URL: Type.String({
    default: `http://127.0.0.1:${DefaultPorts.scheduler}`,
    pattern: '^https?://[^\\s/]+(/[^\\s]*)?$',
    description: 'base URL nodes use to reach this API (goes into the iPXE script and the kernel command line)',
  }),
  SWARMBOOT_TFTP_URL: Type.String({ default: `tftp://127.0.0.1:${DefaultPorts.tftp}`, pattern: '^(tftp|https?)://\\S+$', description: 'where iPXE fetches the kernel and initrd' }),
  SWARMBOOT_BOOT_KERNEL: Type.String({ default: 'debian/linux', minLength: 1, description: 'kernel path below SWARMBOOT_TFTP_URL' }),
  SWARMBOOT_BOOT_INITRD: Type.String({ default: 'debian/initrd.gz', minLength: 1, description: 'initrd path below SWARMBOOT_TFTP_URL' }),
  SWARMBOOT_BOOT_CMDLINE: Type.String({ default: 'console=ttyS0,115200 priority=critical', description: 'extra kernel arguments' }),
  SWARMBOOT_BOOTENV_DIR: Type.String({
    default: '',
    description: 'directory holding the install environment (vmlinuz, initrd.img from scripts/build-bootenv.sh), served at /v1/bootenv/<file>; empty: not served here',
  }),
  SWARMBOOT_BOOTENV_URL: Type.String({
    default: '',
    pattern: '^(https?://\\S+)?$',
    description: 'base URL iPXE fetches vmlinuz and initrd.img from (HTTP: faster than TFTP for 50 MB); empty: SWARMBOOT_PUBLIC_URL/v1/bootenv',
  }),
  SWARMBOOT_BOOTENV_CMDLINE: Type.String({ default: 'console=tty0 console=ttyS0,115200n8', description: 'extra kernel arguments of the install environment' }),
  SWARMBOOT_NETCONSOLE_TARGET: Type.String({
    default: '',
    pattern: '^(\\d+\\.\\d+\\.\\d+\\.\\d+:\\d+|off)?$',
    description: `IPv4:port kernel messages go to (netconsole=); empty: the syslog target host, port ${DefaultPorts.netconsole} (the log sink's SWARMBOOT_NETCONSOLE_LISTEN); off: none`,
  }),
  SWARMBOOT_INSTALL_ATTEMPTS: Type.Integer({ default: 3, minimum: 1, maximum: 100, description: 'install attempts of a real node per deployment before it is failed and boots its local disk' }),
  SWARMBOOT_LINGER_SECONDS: Type.Integer({ default: 900, minimum: 0, maximum: 86400, description: 'an installed real node seeds until released, or this long at most (s)' }),
  SWARMBOOT_SCHEDULER_IDEMPOTENCY_TTL_SECONDS: Type.Integer({
    default: 86400,
    minimum: 60,
    maximum: 30 * 86400,
    description: 'how long the answer to a POST with an Idempotency-Key is kept for replay (s); a retry after that runs again',
  }),
  SWARMBOOT_SYSLOG_TARGET: Type.String({ default: `127.0.0.1:${DefaultPorts.syslog}`, description: 'syslog host:port given to agents in the install manifest' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.scheduler}`, description: 'host:port of /healthz and /metrics' }),
});
export type SchedulerConfig = Static<typeof SchedulerConfig>;
