import { Type } from '@sinclair/typebox';
import { CommonConfig } from '@swarmboot/kit';
import { DefaultPorts } from '@swarmboot/contracts';

/** Environment of `swarmboot tracker`. */
export const TrackerConfig = Type.Object({
  ...CommonConfig,
  SWARMBOOT_TRACKER_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.tracker}`, description: 'HTTP tracker host:port; announce URL http://<host>:<port>/announce' }),
  SWARMBOOT_TRACKER_UDP_LISTEN: Type.String({
    default: '',
    description: 'UDP tracker (BEP 15) host:port; announce URL udp://<host>:<port>. Empty: the host:port of SWARMBOOT_TRACKER_LISTEN; `off`: no UDP',
  }),
  SWARMBOOT_TRACKER_INTERVAL: Type.Integer({
    default: 60,
    minimum: 5,
    maximum: 3600,
    description: 'seconds between re-announces told to clients (BEP 3 `interval`)',
  }),
  SWARMBOOT_TRACKER_ALLOWED_SUBNETS: Type.String({
    default: '',
    description: 'CIDR ranges (comma-separated) of the provisioning networks whose peers may announce, over HTTP and UDP; connections and datagrams from elsewhere are dropped and counted. Empty: anyone',
  }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.tracker}`, description: '/healthz and /metrics host:port' }),
});
