export { runAgent, type AgentOptions, type AgentResult } from './agent.js';
export { installFromSwarm, reportFailure, failureReason, sha256File, type InstallOptions, type Say } from './install.js';
export { joinSwarm, type SwarmOptions, type SwarmDownload } from './swarm.js';
export { parseBootScript, parseTftpUrl, swarmbootArgs, type BootScript } from './boot-script.js';
export { main, AgentConfig } from './main.js';
export { listDisks, selectDisk, requiredDiskBytes, writeImage, makeRaw, DISK_TOOLS, DISK_TOOLS_NO_VFAT, DiskErrorCode, type BlockDisk, type ImageFormat, type WriteOptions, type WriteResult } from './disk/index.js';
export { runNodeAgent, writeNextStep, type NodeAgentOptions, type NodeAgentResult, type NextStep } from './node-agent.js';
export { main as nodeMain, NEXT_STEP_FILE } from './node-main.js';
