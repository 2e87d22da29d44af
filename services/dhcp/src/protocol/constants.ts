/** BOOTP `op` (RFC 2131 §2, RFC 951). */
export const BootOp = { request: 1, reply: 2 } as const;

/** `htype` for Ethernet (RFC 1700 "Hardware Type"), the only one the server answers for now. */
export const HTYPE_ETHERNET = 1;

/** RFC 2131 §2: the broadcast bit is the leftmost bit of `flags`. */
export const FLAG_BROADCAST = 0x8000;

/** RFC 2131 §3: the first four octets of the options field (99.130.83.99). */
export const MAGIC_COOKIE = 0x63825363;

/** Length of the fixed BOOTP header before the magic cookie (RFC 2131 §2, Figure 1). */
export const FIXED_HEADER_LENGTH = 236;

/**
 * RFC 1542 §2.1: a BOOTP message is at least 300 octets; some PXE ROMs drop shorter replies, so
 * the encoder pads with PAD options up to this size.
 */
export const MIN_BOOTP_LENGTH = 300;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const MessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const messageTypeNames = new Map<number, string>(Object.entries(MessageType).map(([k, v]) => [v, k]));
/** `discover`, `offer`, … or `type-<n>` for codes without a name; for logs and metric labels. */
export function messageTypeName(type: number | undefined): string {
  if (type === undefined) return 'none';
  return messageTypeNames.get(type) ?? `type-${type}`;
}

/** Option codes used here (RFC 2132 unless noted). */
export const DhcpOption = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dns: 6,
  hostname: 12,
  /** RFC 2132 §8.4 vendor specific information (PXE sub-options in proxyDHCP replies) */
  vendorOptions: 43,
  requestedIp: 50,
  leaseTime: 51,
  /** RFC 2132 §9.3: 1 = `file` holds options, 2 = `sname`, 3 = both */
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterRequestList: 55,
  message: 56,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  vendorClass: 60,
  clientId: 61,
  tftpServerName: 66,
  bootfileName: 67,
  /** RFC 3004 */
  userClass: 77,
  /** RFC 3046 */
  relayAgentInfo: 82,
  /** RFC 4578 §2.1 client system architecture */
  clientArch: 93,
  /** RFC 4578 §2.2 client network device interface */
  clientNdi: 94,
  /** RFC 4578 §2.3 client machine identifier (UUID) */
  clientUuid: 97,
  end: 255,
} as const;

/** Sub-options of option 82 (RFC 3046 §2.0 and later registrations). */
export const RelayAgentSubOption = {
  circuitId: 1,
  remoteId: 2,
  /** RFC 8357 §5.1: the relay wants replies at the UDP source port it sent from (length 0) */
  relaySourcePort: 19,
} as const;

/** RFC 4578 §2.1 / IANA "Processor Architecture Types" values the boot policy knows. */
export const ClientArch = {
  x86Bios: 0,
  efiIa32: 6,
  efiX64: 7,
  efiBc: 9,
  efiArm64: 11,
} as const;
