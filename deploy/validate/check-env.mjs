// Checks deployment environments against the services' own configuration schemas.
//
//   node check-env.mjs LABEL=ENV.json...      (run from a built tree: copied next to its node_modules)
//
// Each ENV.json maps a service name to the environment its container gets, as written by
// `swarmboot-validate k8s|compose -env-out` from the rendered chart or the resolved compose file.
// For each service: every variable must be known to some service (a misspelt name would be
// ignored silently), and the service's config loader (`load*Config`, else kit's `parseConfig`
// with its exported TypeBox schema) must accept the environment, as at start-up.
import { readFileSync } from 'node:fs';
import { parseConfig, parseHostPort, redisOptions } from '@swarmboot/kit';

const SERVICES = ['dhcp', 'tftp', 'tracker', 'seeder', 'scheduler', 'logsink', 'power'];
// Read by the image or the kubelet, not by a service config schema.
const NOT_SERVICE_VARS = new Set(['NODE_ENV']);

const isSchema = (v) => v && typeof v === 'object' && v.type === 'object' && v.properties && Object.keys(v.properties).some((k) => k.startsWith('SWARMBOOT_'));

const modules = {};
const known = new Set();
for (const svc of SERVICES) {
  const mod = await import(`@swarmboot/${svc}`);
  const schema = Object.values(mod).find(isSchema);
  if (!schema) throw new Error(`@swarmboot/${svc} exports no TypeBox schema of SWARMBOOT_* variables`);
  const loader = Object.entries(mod).find(([name, v]) => typeof v === 'function' && /^load\w*Config$/.test(name))?.[1];
  modules[svc] = { schema, loader };
  for (const k of Object.keys(schema.properties)) known.add(k);
}

let failures = 0;
for (const arg of process.argv.slice(2)) {
  const [label, file] = arg.includes('=') ? arg.split(/=(.*)/s) : [arg, arg];
  const envs = JSON.parse(readFileSync(file, 'utf8'));
  const checked = [];
  for (const svc of SERVICES) {
    const env = envs[svc];
    if (!env) continue;
    const problems = [];
    for (const k of Object.keys(env)) {
      if (k.startsWith('SWARMBOOT_') && !known.has(k) && !NOT_SERVICE_VARS.has(k)) problems.push(`${k} is read by no service`);
    }
    try {
      const { schema, loader } = modules[svc];
      const config = loader ? loader(env) : parseConfig(schema, env);
      const flat = config.env ?? config;
      for (const [k, v] of Object.entries(flat)) {
        // SWARMBOOT_TRACKER_UDP_LISTEN: '' (same as the HTTP listen address) and 'off' are valid too
        if (/_LISTEN$/.test(k) && typeof v === 'string' && !(k.endsWith('_UDP_LISTEN') && (v === '' || v === 'off'))) parseHostPort(v, k);
      }
      // the schema takes any string; connectRedis parses redis+sentinel:// at start-up
      if (typeof flat.SWARMBOOT_REDIS_URL === 'string') redisOptions(flat.SWARMBOOT_REDIS_URL);
    } catch (err) {
      problems.push(err.code ? `${err.code}: ${err.message}` : String(err));
    }
    if (problems.length) {
      failures++;
      console.error(`FAIL ${label} ${svc}:\n  ${problems.join('\n  ')}`);
    } else {
      checked.push(svc);
    }
  }
  const missing = SERVICES.filter((s) => !envs[s]);
  if (missing.length) {
    failures++;
    console.error(`FAIL ${label}: no environment for ${missing.join(', ')}`);
  }
  if (checked.length === SERVICES.length) console.log(`ok: ${label}: ${checked.join(' ')} accept their environment`);
}
process.exit(failures ? 1 : 0);
