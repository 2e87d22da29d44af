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
  SWARMBOOT_SYSLOG_TARGET: Type.String({ default: `127.0.0.1:${DefaultPorts.syslog}`, description: 'syslog host:port given to agents in the install manifest' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.scheduler}`, description: 'host:port of /healthz and /metrics' }),
});
export type SchedulerConfig = Static<typeof SchedulerConfig>;
