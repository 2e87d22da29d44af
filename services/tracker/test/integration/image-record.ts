import type { ImageRecord } from '@swarmboot/contracts';

/**
 * A catalog record for the tracker tests: the tracker reads only `name` and `infoHash` (which
 * swarms it admits); the rest is a plausible raw-disk image of `size` bytes.
 */
export function imageRecord(name: string, infoHash: Buffer, size = 1 << 20): ImageRecord {
  return {
    name,
    file: `${name}.img`,
    format: 'raw-disk',
    bootable: false,
    size,
    sha256: 'ab'.repeat(32),
    infoHash: infoHash.toString('hex'),
    pieceLength: 262144,
    torrentUrl: `http://127.0.0.1:8001/v1/images/${name}/torrent`,
    webSeedUrl: `http://127.0.0.1:8001/v1/images/${name}/file/${name}.img`,
    addedAt: new Date().toISOString(),
  };
}
