export { listDisks, computeByPath } from './list.js';
export { selectDisk, parseSize, parseDiskHint, normalizeWwn, type BlockDisk, type DiskHint } from './select.js';
export { requiredDiskBytes, inspectImage, detectCompression, contentSize, zstdContentSize, tarUsage, rootFsBytes, LAYOUT, type ImageFormat, type Compression, type ImageInfo, type TarUsage } from './format.js';
export { writeImage, type WriteOptions, type WriteResult } from './write.js';
export { makeRaw } from './make-raw.js';
export { DISK_TOOLS, DISK_TOOLS_NO_VFAT } from './spawn.js';
export { DiskErrorCode } from './errors.js';
