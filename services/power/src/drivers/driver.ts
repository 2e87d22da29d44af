import type { BmcDriver, ErrorCode, PowerAction } from '@swarmboot/contracts';
import type { BmcTarget } from '../domain/inventory.js';

/** What a BMC reported: its power state before the action (Redfish PowerState; IPMI on/off as On/Off). */
export interface DriverResult {
  powerState: string;
}

/**
 * One protocol to a BMC. `run` is one attempt of `action` — the caller retries (retry.ts).
 * Throws SwarmbootError with a BMC_* code (or IPMITOOL_FAILED); RetryableCodes says which are worth another try.
 */
export interface PowerDriver {
  readonly name: BmcDriver;
  run(action: PowerAction, target: BmcTarget, signal: AbortSignal): Promise<DriverResult>;
}

/**
 * Failures another attempt may mend: the BMC was slow, busy, restarting or garbled its answer.
 * Refused credentials, other 4xx, TLS verification and a missing system are final — retrying them
 * only hammers the BMC (and may lock the account).
 */
export const RetryableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BMC_TIMEOUT', 'BMC_UNREACHABLE', 'BMC_SERVER_ERROR', 'BMC_RESPONSE_INVALID']);
