import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SwarmbootError, isSwarmbootError, type AgentReportReply, type ErrorCode, type InstallManifest, type TransferStats } from '@swarmboot/contracts';
import parseTorrent, { type ParsedTorrent } from 'parse-torrent';
import { checkBencode, checkManifestMatches, parsePublicKey, verifyImageManifest, type AgentApiClient, type Logger } from '@swarmboot/kit';
import { joinSwarm } from './swarm.js';

/** Sends one syslog line (RFC 5424 severity 0–7). */
export type Say = (severity: number, msg: string) => void;

export interface InstallOptions {
  client: AgentApiClient;
  manifest: InstallManifest;
  /** where the image is downloaded to (and seeded from afterwards) */
  imageDir: string;
  log: Logger;
  say: Say;
  signal?: AbortSignal | undefined;
  /**
   * Puts the verified image onto the node's disk (emulated: unpack into a directory; node: write
   * the block device). Returns a line for the log. Throws SwarmbootError with the failure code.
   */
  write: (imageFile: string) => Promise<string>;
  /** an installed node keeps seeding until released, or this long at most (ms); undefined: until released */
  lingerMs?: number | undefined;
  /** how often to ask whether the deployment released the node (ms, default 1000) */
  releasePollMs?: number | undefined;
}

/**
 * The installer's part both agent modes share: when the deployment trusts signing keys, the
 * image's signed manifest checked before anything is fetched (`checkSignedImage`; a refusal
 * writes nothing), the image from the BitTorrent swarm (each piece
 * checked against its SHA-1 in the .torrent, BEP 3), the whole file's sha256 against the catalog
 * (IMAGE_CORRUPT: never reported installed), `write`, the `installed` report with where the bytes
 * came from, then seeding for the other nodes until released or `lingerMs` passed. Resolves with
 * where the bytes came from and how many went to other nodes.
 * Throws SwarmbootError (IMAGE_NOT_SIGNED, IMAGE_KEY_UNTRUSTED, IMAGE_SIGNATURE_INVALID,
 * IMAGE_MANIFEST_MISMATCH, IMAGE_CORRUPT, TORRENT_INVALID, API errors, whatever `write` throws); the caller reports
 * the failure (`reportFailure`), since what follows it differs by mode.
 */
export async function installFromSwarm(o: InstallOptions): Promise<TransferStats> {
  const { client, manifest, log, say } = o;
  const image = manifest.image;
  const torrent = await client.getBytes(image.torrentUrl);
  // webtorrent's bencode decoder loops forever on some malformed input: refuse it first
  checkBencode(torrent);
  // before the swarm is joined, so a refused image leaves not one byte on the node
  if (manifest.trustedKeys !== undefined && manifest.trustedKeys.length > 0) say(6, await checkSignedImage(manifest, torrent));
  const swarm = joinSwarm({
    torrent,
    dir: o.imageDir,
    webSeedUrl: image.webSeedUrl,
    log,
    onProgress: (bytes, total) => void client.report({ stage: 'downloading', bytes, total }).catch((err: unknown) => log.warn({ err }, 'progress report failed')),
    // The log sink's `swarm-stalled` rule reads this line (services/logsink/rules/failure-rules.yaml).
    onStall: (quietMs) => say(4, `swarm stalled: no bytes for ${Math.round(quietMs / 1000)} s; adding the web seed`),
  });
  try {
    say(6, `downloading image ${image.name} (${image.format}, ${image.size} bytes, infohash ${image.infoHash})`);
    const stats = await swarm.done;
    say(6, `image downloaded in ${stats.downloadMs} ms: ${stats.bytesFromPeers} bytes from peers, ${stats.bytesFromSeeder} from the seeder, ${stats.bytesFromWebSeed} from the web seed`);

    await client.report({ stage: 'verifying' });
    const file = join(o.imageDir, image.file);
    const sha256 = await sha256File(file);
    if (sha256 !== image.sha256) throw new SwarmbootError('IMAGE_CORRUPT', `sha256 ${sha256} != catalog ${image.sha256}`);
    say(6, `sha256 verified: ${sha256}`);
    say(6, await o.write(file));
    stats.bytesUploaded = swarm.uploaded();
    await client.report({ stage: 'installed', stats });
    say(5, `installed ${image.name}; seeding until released${o.lingerMs === undefined ? '' : ` or for ${Math.round(o.lingerMs / 1000)} s`}`);
    log.info(stats, 'installed');

    const released = await seedUntilReleased(client, o.lingerMs, o.releasePollMs ?? 1000, o.signal);
    stats.bytesUploaded = swarm.uploaded();
    say(6, `${released ? 'released' : 'linger time over'}; uploaded ${stats.bytesUploaded} bytes to other nodes`);
    return stats;
  } finally {
    await swarm.stop();
  }
}

/**
 * The signed-image check (issue 15), before any byte of the image is fetched or written: the
 * image's signed manifest must verify with one of the deployment's trusted keys, and describe the
 * catalog record the agent was given and the .torrent it fetched (infohash of the info
 * dictionary, length, file name = the record's). The sha256 after the download is compared with the
 * record's, which the manifest was just found to equal. Returns a line for the log. Throws
 * SwarmbootError IMAGE_NOT_SIGNED, IMAGE_KEY_UNTRUSTED, IMAGE_SIGNATURE_INVALID,
 * IMAGE_MANIFEST_MISMATCH, SIGNING_KEY_INVALID (a trusted key the scheduler sent does not parse),
 * TORRENT_INVALID.
 */
export async function checkSignedImage(manifest: InstallManifest, torrent: Buffer): Promise<string> {
  const image = manifest.image;
  const trusted = (manifest.trustedKeys ?? []).map((k, i) => parsePublicKey(k, `trusted key ${i + 1} of the install manifest`));
  const signed = image.signedManifest;
  if (signed === undefined) throw new SwarmbootError('IMAGE_NOT_SIGNED', `image ${image.name} has no signed manifest; the deployment trusts only images signed by ${trusted.map((k) => k.keyId).join(', ')}`);
  const key = verifyImageManifest(signed, trusted);
  checkManifestMatches(signed, image, 'catalog record');
  let parsed: ParsedTorrent;
  try {
    parsed = await parseTorrent(torrent);
  } catch (err) {
    throw new SwarmbootError('TORRENT_INVALID', `the .torrent of ${image.name} does not parse`, { cause: err });
  }
  checkManifestMatches(signed, { infoHash: parsed.infoHash, size: parsed.length }, '.torrent');
  if (parsed.name !== image.file) throw new SwarmbootError('IMAGE_MANIFEST_MISMATCH', `the .torrent of ${image.name} names file ${String(parsed.name)}, the catalog record ${image.file}`);
  return `signed manifest of ${image.name} verified: key ${key.keyId}, infohash ${signed.infoHash}, sha256 ${signed.sha256}, signed ${signed.created}`;
}

/**
 * Reports `failed` with the error's code (`CODE: message`), says it on syslog, and returns the
 * scheduler's reply (`retry`: boot the install environment again), or undefined when the report
 * itself failed.
 */
export async function reportFailure(client: AgentApiClient, say: Say, err: unknown): Promise<AgentReportReply | undefined> {
  const reason = failureReason(err);
  say(3, `install failed: ${reason}`);
  return client.report({ stage: 'failed', reason }).catch(() => undefined);
}

/** `CODE: message` of a SwarmbootError (AGENT_ERROR for anything else), at most 2000 characters (AgentReport.reason). */
export function failureReason(err: unknown): string {
  const text = isSwarmbootError(err) ? (err.message.startsWith(`${err.code}:`) ? err.message : `${err.code}: ${err.message}`) : `${'AGENT_ERROR' satisfies ErrorCode}: ${err instanceof Error ? err.message : String(err)}`;
  return text.slice(0, 2000);
}

async function seedUntilReleased(client: AgentApiClient, lingerMs: number | undefined, pollMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  const until = lingerMs === undefined ? Infinity : Date.now() + lingerMs;
  while (!(signal?.aborted ?? false) && Date.now() < until) {
    const node = await client.node().catch(() => undefined);
    if (node?.state === 'released') return true;
    await sleep(Math.min(pollMs, Math.max(0, until - Date.now())), undefined, { signal }).catch(() => undefined);
  }
  return false;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
