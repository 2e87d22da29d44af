import { isIPv4 } from 'node:net';
import { FormatRegistry } from '@sinclair/typebox';

/**
 * TypeBox's `Value.Check` fails every value of a schema whose string `format` is not registered.
 * `TftpTransfer.clientAddress` carries `format: 'ipv4'`, so without this the EventBus refuses
 * every TFTP event (EVENT_INVALID). The registry is global to the (deduplicated) typebox module;
 * this belongs in @swarmboot/contracts or kit — until it is there, the tftp service registers it.
 */
export function registerFormats(): void {
  if (!FormatRegistry.Has('ipv4')) FormatRegistry.Set('ipv4', (v) => isIPv4(v));
}
