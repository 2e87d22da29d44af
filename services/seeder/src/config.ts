import { Type } from '@sinclair/typebox';
import { CommonConfig, TokensConfig } from '@swarmboot/kit';
import { DefaultPorts } from '@swarmboot/contracts';

/** Environment of `swarmboot seeder`. */
export const SeederConfig = Type.Object({
  ...CommonConfig,
  ...TokensConfig,
  SWARMBOOT_SEEDER_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.seeder}`, description: 'HTTP API and web seed host:port' }),
  SWARMBOOT_SEEDER_DATA: Type.String({ default: './data/seeder', description: 'data directory; images at <data>/images/<name>/<file>' }),
  SWARMBOOT_SEEDER_PUBLIC_URL: Type.String({ default: `http://127.0.0.1:${DefaultPorts.seeder}`, pattern: '^https?://', description: 'base URL nodes reach the seeder at (torrent and web seed URLs)' }),
  SWARMBOOT_TRACKER_ANNOUNCE_URL: Type.String({ default: `http://127.0.0.1:${DefaultPorts.tracker}/announce`, pattern: '^(https?|udp)://', description: 'tracker announce URL written into every .torrent' }),
  SWARMBOOT_SEEDER_UPLOAD_LIMIT: Type.Integer({ default: 0, minimum: 0, description: 'BitTorrent upload cap (bytes/s); 0 for none' }),
  SWARMBOOT_SEEDER_SUPER_SEED: Type.Integer({
    default: 4,
    minimum: 0,
    maximum: 1024,
    description: 'super-seeding (BEP 16): pieces offered to each peer at a time (plus what the peer takes from the seeder in 0.25 s at its measured rate), so the seeder uploads distinct pieces first where its upload is scarce; 0 advertises every piece',
  }),
  SWARMBOOT_SEEDER_TORRENT_PORT: Type.Integer({ default: 6881, minimum: 0, maximum: 65535, description: 'BitTorrent TCP port' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.seeder}`, description: '/healthz and /metrics host:port' }),
});
