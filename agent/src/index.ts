export { runAgent, sha256File, type AgentOptions, type AgentResult } from './agent.js';
export { joinSwarm, type SwarmOptions, type SwarmDownload } from './swarm.js';
export { parseBootScript, parseTftpUrl, swarmbootArgs, type BootScript } from './boot-script.js';
export { main, AgentConfig } from './main.js';
export { listDisks, selectDisk, requiredDiskBytes, writeImage, makeRaw, DISK_TOOLS, DISK_TOOLS_NO_VFAT, DiskErrorCode, type BlockDisk, type ImageFormat, type WriteOptions, type WriteResult } from './disk/index.js';
