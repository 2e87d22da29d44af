import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SwarmbootError } from '@swarmboot/contracts';

/**
 * Parses configuration once, at start-up, from an environment-like record.
 * Each schema property is named after its variable (e.g. `SWARMBOOT_REDIS_URL`); values are
 * converted (numbers, booleans) and defaults applied. Throws SwarmbootError `CONFIG_INVALID`
 * naming every offending variable. Returns a frozen object.
 */
export function parseConfig<P extends TProperties>(schema: TObject<P>, env: Record<string, string | undefined>): Readonly<Static<TObject<P>>> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') picked[key] = raw;
  }
  const withDefaults = Value.Default(schema, Value.Convert(schema, picked));
  const errors = [...Value.Errors(schema, withDefaults)];
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.path.replace(/^\//, '') || '(config)';
      return `${name}=${JSON.stringify(env[name] ?? null)}: ${e.message}`;
    });
    throw new SwarmbootError('CONFIG_INVALID', `invalid configuration:\n  ${[...new Set(lines)].join('\n  ')}`, { context: { variables: errors.map((e) => e.path.slice(1)) } });
  }
  return Object.freeze(withDefaults as Static<TObject<P>>);
}

/** Variables every connected service reads. */
export const CommonConfig = {
  SWARMBOOT_NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222', description: 'NATS server URL (JetStream enabled); a cluster as comma-separated URLs' }),
  /** absent: a new stream gets 1 replica, an existing one keeps its count (connectNats) */
  SWARMBOOT_NATS_REPLICAS: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'JetStream replicas of the SWARMBOOT stream (3 on a three-node cluster)' })),
  SWARMBOOT_REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', description: 'Redis URL, or redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[?db=N]' }),
  SWARMBOOT_LOG_LEVEL: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal')], { default: 'info' }),
} as const;

/** Parses `host:port` (port required); throws CONFIG_INVALID naming `name`. */
export function parseHostPort(value: string, name: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) throw new SwarmbootError('CONFIG_INVALID', `${name}=${JSON.stringify(value)}: expected host:port`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}
