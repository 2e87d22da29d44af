import { isIPv4 } from 'node:net';
import { FormatRegistry } from '@sinclair/typebox';

/**
 * TypeBox's `Value.Check` knows no string formats until they are registered, and fails every value
 * of a schema with an unknown one: `LeaseGranted.yiaddr` and `TftpTransfer.clientAddress` carry
 * `format: 'ipv4'`, so without this the EventBus drops every lease and TFTP event as invalid.
 * Registered once per process (the registry is global to the deduplicated typebox module); it
 * belongs in @swarmboot/kit or contracts — until it is there, the scheduler registers it.
 */
export function registerFormats(): void {
  if (!FormatRegistry.Has('ipv4')) FormatRegistry.Set('ipv4', (v) => isIPv4(v));
}
