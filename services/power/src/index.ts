export { main } from './main.js';
export { buildPower, PowerConsumer, type Power, type PowerDeps, type PowerLimits, type PowerOutcome } from './app.js';
export { PowerConfigSchema, loadConfig, type PowerConfig } from './config.js';
export { BmcInventory, loadInventory, Credentials, SecretPaths, type BmcTarget } from './domain/inventory.js';
export { withRetry, type RetryPolicy, type RetryResult } from './domain/retry.js';
export { RetryableCodes, type PowerDriver, type DriverResult } from './drivers/driver.js';
export { RedfishDriver, baseUrl, type RedfishOptions } from './drivers/redfish.js';
export { IpmiDriver, type IpmiOptions } from './drivers/ipmi.js';
