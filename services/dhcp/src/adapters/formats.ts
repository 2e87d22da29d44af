import { isIPv4 } from 'node:net';
import { FormatRegistry } from '@sinclair/typebox';

/**
 * `@swarmboot/contracts` schemas use `format: 'ipv4'` (LeaseGranted.yiaddr/giaddr), and TypeBox
 * fails `Value.Check` on formats nobody registered ("Unknown format 'ipv4'"), so EventBus would
 * reject every lease event. Registers the format once per process (idempotent).
 * TODO(contracts): register it in packages/contracts and drop this.
 */
export function registerFormats(): void {
  if (!FormatRegistry.Has('ipv4')) FormatRegistry.Set('ipv4', (v) => isIPv4(v));
}
