import createTorrent from 'create-torrent';
import parseTorrent from 'parse-torrent';
import { SwarmbootError } from '@swarmboot/contracts';
import { checkBencode } from '@swarmboot/kit';

export interface TorrentSpec {
  /** the torrent's `info.name`: the image's file name (single-file torrent, BEP 3) */
  name: string;
  /** bytes, a power of two */
  pieceLength: number;
  /** tracker announce URL (BEP 3 `announce`, BEP 12 `announce-list`) */
  announceUrl: string;
  /** URL of the file itself: for a single-file torrent BEP 19 `url-list` names the file, not a directory */
  webSeedUrl: string;
}

/**
 * Hashes the file at `filePath` into a .torrent (bencoded metainfo, BEP 3). Only `info`
 * (name, length, piece length, pieces) makes the infohash, so the same bytes under the same name
 * and piece length give the same infohash whatever the tracker or web seed URL.
 * Throws SwarmbootError TORRENT_CREATE_FAILED.
 */
export async function makeTorrent(filePath: string, spec: TorrentSpec): Promise<{ torrent: Buffer; infoHash: string }> {
  const torrent = await new Promise<Buffer>((resolve, reject) => {
    createTorrent(
      filePath,
      {
        name: spec.name,
        pieceLength: spec.pieceLength,
        announceList: [[spec.announceUrl]],
        urlList: [spec.webSeedUrl],
        createdBy: 'swarmboot seeder',
        // an image named Thumbs.db is still an image
        filterJunkFiles: false,
      },
      (err, buf) => (err ? reject(new SwarmbootError('TORRENT_CREATE_FAILED', `cannot create the torrent: ${err.message}`, { cause: err })) : resolve(Buffer.from(buf))),
    );
  });
  return { torrent, infoHash: await infoHashOf(torrent) };
}

/** The infohash (40 lower-case hex digits) of a .torrent; throws SwarmbootError TORRENT_INVALID (also for bencode that would hang the decoder, see checkBencode). */
export async function infoHashOf(torrent: Uint8Array): Promise<string> {
  // parse-torrent takes any 20 bytes for a bare infohash, not a .torrent (found by fuzzing: a
  // truncated file would have "parsed"); no metainfo is that short
  if (torrent.length === 20) throw new SwarmbootError('TORRENT_INVALID', 'not a valid .torrent (20 bytes)');
  checkBencode(torrent);
  try {
    return (await parseTorrent(torrent)).infoHash;
  } catch (err) {
    throw new SwarmbootError('TORRENT_INVALID', 'not a valid .torrent', { cause: err });
  }
}

/**
 * The infohash the seeder gives the file at `filePath` stored under file name `name` with
 * `pieceLength`: a signer computes it from the bytes it holds to check the catalog's record
 * (`swarmboot image add --sign`). Tracker and web seed URLs are outside the info dictionary, so
 * placeholders do. Throws TORRENT_CREATE_FAILED.
 */
export async function infoHashOfFile(filePath: string, name: string, pieceLength: number): Promise<string> {
  return (await makeTorrent(filePath, { name, pieceLength, announceUrl: 'http://tracker.invalid/announce', webSeedUrl: `http://seeder.invalid/${encodeURIComponent(name)}` })).infoHash;
}
