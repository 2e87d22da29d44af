/**
 * Every error code of swarmboot, spelled once: `SwarmbootError.code`, the `code` of an HTTP error
 * body `{ code, message }`, and the `CODE:` prefix of a node's failure reason (AgentReport.reason).
 *
 * `status` is the HTTP status the APIs answer with the code. `http: false` marks codes that are
 * never an API answer (protocol engines, start-up, CLI, agent); should one escape to an API
 * anyway it is a 500.
 */
export const ErrorCodes = {
  // --- API requests (scheduler and seeder) ---
  VALIDATION: { status: 400, meaning: 'the request does not match its schema (body, query, params) or a field value is invalid' },
  BAD_REQUEST: { status: 400, meaning: 'the HTTP layer refused the request (a 4xx of fastify with no more specific code); the status is fastify’s' },
  NOT_FOUND: { status: 404, meaning: 'no such route, or no such file under it' },
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'the request body exceeds the body limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'the request body’s content-type is not one the route accepts' },
  INTERNAL: { status: 500, meaning: 'an unexpected error; the server logged it, the message is generic' },
  CONFLICT: { status: 409, meaning: 'a concurrent change won (compare-and-set failed), or the id exists' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, meaning: 'the Idempotency-Key header is empty, longer than 255 characters, or has a character outside printable ASCII' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, meaning: 'a request with this Idempotency-Key is still running; retry after it finished' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, meaning: 'this Idempotency-Key was used with another request (method, path or body) on this route' },
  UNAUTHENTICATED: { status: 401, meaning: 'the route needs a bearer token (RFC 6750) and the request has none, or one the server does not know; the answer carries WWW-Authenticate: Bearer' },
  INSUFFICIENT_SCOPE: { status: 403, meaning: 'the bearer token is known but lacks the scope the route needs (read < deploy < admin; RFC 6750 §3.1 insufficient_scope)' },
  PRECONDITION_FAILED: { status: 412, meaning: 'the If-Match header names no current ETag of the resource: it changed since it was read (RFC 9110 §13.1.1)' },
  CURSOR_INVALID: { status: 400, meaning: 'the cursor of a list request is not a nextCursor this list returned' },
  REDIS_UNAVAILABLE: { status: 503, meaning: 'Redis cannot be reached' },
  REDIS_NOT_REPLICATED: { status: 503, meaning: 'a write reached the Redis master but not the replicas the URL asks for (waitReplicas) in time: it may be lost in a failover' },
  NATS_UNAVAILABLE: { status: 503, meaning: 'NATS cannot be reached' },

  // --- scheduler: inventory, deployments, agent API ---
  IMPORT_INVALID: { status: 400, meaning: 'a node import (CSV or JSON) is malformed; the message names the line or entry' },
  NO_NODES: { status: 400, meaning: 'a deployment selects no node' },
  NODE_NOT_FOUND: { status: 404, meaning: 'no node with this id or MAC' },
  DEPLOYMENT_NOT_FOUND: { status: 404, meaning: 'no deployment with this id' },
  NODE_EXISTS: { status: 409, meaning: 'a node with this id exists with another MAC' },
  MAC_IN_USE: { status: 409, meaning: 'the MAC belongs to another node' },
  HOSTNAME_IN_USE: { status: 409, meaning: 'the hostname belongs to another node' },
  NODE_BUSY: { status: 409, meaning: 'the node is in an active deployment' },
  NOT_ADMITTED: { status: 409, meaning: 'the node is not admitted in an active deployment' },
  WRONG_DEPLOYMENT: { status: 409, meaning: 'the agent reports for a deployment the node is not in' },
  INVALID_TRANSITION: { status: 409, meaning: 'the node state machine does not allow this change' },
  BOOTENV_MISSING: { status: 409, meaning: 'the install environment (kernel, initrd) real nodes boot is not available' },
  IMAGE_NOT_BOOTABLE: { status: 422, meaning: 'real nodes need an image marked bootable' },
  DEPLOYMENT_FINISHED: { status: 409, meaning: 'the deployment is completed, released or cancelled: it cannot be cancelled or resumed' },
  ATTEMPTS_EXHAUSTED: { status: 500, http: false, meaning: 'node failure reason: the node failed every install attempt and boots its disk' },

  // --- seeder: image upload and serving ---
  IMAGE_NOT_FOUND: { status: 404, meaning: 'no image with this name in the catalog or on this seeder' },
  IMAGE_NAME_INVALID: { status: 400, meaning: 'the image name does not match IMAGE_NAME_PATTERN' },
  IMAGE_FILE_INVALID: { status: 400, meaning: 'the image file name does not match FILE_NAME_PATTERN' },
  IMAGE_EMPTY: { status: 400, meaning: 'the uploaded image is empty' },
  IMAGE_FORMAT_UNKNOWN: { status: 400, meaning: 'the uploaded bytes are neither tar nor a disk image (GPT/MBR), compressed or not' },
  IMAGE_FORMAT_MISMATCH: { status: 400, meaning: 'the uploaded bytes are not of the declared format' },
  IMAGE_DUPLICATE: { status: 409, meaning: 'the uploaded bytes under this file name are already another image (the same infohash, BEP 3: the info dictionary holds the file name and the pieces); deploy that image, or upload under another file name' },
  IMAGE_UPLOAD_ABORTED: { status: 400, meaning: 'the upload ended before its body did' },
  STORAGE_FULL: { status: 507, meaning: 'no space left in the seeder data directory' },
  IMAGE_STORE_FAILED: { status: 500, meaning: 'the seeder could not store an uploaded image' },
  TORRENT_CREATE_FAILED: { status: 500, meaning: 'the seeder could not create the .torrent of an image' },
  TORRENT_INVALID: { status: 500, meaning: 'a stored .torrent does not parse' },
  SEEDER_NOT_STARTED: { status: 500, meaning: 'the seeder’s BitTorrent client is not running' },
  SEEDER_SEED_FAILED: { status: 500, meaning: 'the seeder could not seed an image' },
  SEEDER_TORRENT_LISTEN_FAILED: { status: 500, http: false, meaning: 'the seeder’s BitTorrent client cannot listen on its port' },
  IMAGE_NOT_READY: { status: 503, meaning: 'the image is in the catalog but this seeder replica is still fetching it from the swarm; retry after the Retry-After seconds' },
  IMAGE_REPLICA_MISMATCH: { status: 500, http: false, meaning: 'a seeder replica fetched an image whose size or sha256 differs from its catalog record; not seeded' },

  // --- signed images (issue 15): API answers at upload and deployment creation, node failure reasons at install ---
  SIGNING_KEY_INVALID: { status: 400, meaning: 'a key is not an Ed25519 key: a trusted key is neither an SPKI PEM public key nor 32 raw bytes in base64, or a signing key file is not a PKCS#8 PEM Ed25519 private key' },
  IMAGE_NOT_SIGNED: { status: 422, meaning: 'the deployment trusts signing keys but its image has no signed manifest (sign it: swarmboot image sign); node failure reason when the image lost its signature after the deployment was created' },
  IMAGE_KEY_UNTRUSTED: { status: 422, meaning: 'the image’s manifest is signed by a key (keyId) the deployment does not trust; node failure reason: nothing was written' },
  IMAGE_SIGNATURE_INVALID: { status: 422, meaning: 'the image’s manifest signature does not verify with the trusted key of its keyId (the manifest or the signature was changed); node failure reason: nothing was written' },
  IMAGE_MANIFEST_MISMATCH: { status: 422, meaning: 'the signed manifest does not describe the image: its name, format, size, sha256 or infohash differs from the catalog record, or (agent) from the .torrent it fetched; node failure reason: nothing was written' },

  // --- API clients (CLI, agent) ---
  API_UNREACHABLE: { status: 500, http: false, meaning: 'client side: the API did not answer (connection refused, DNS, reset, aborted)' },
  API_ERROR: { status: 500, http: false, meaning: 'client side: the API answered non-2xx without a known code' },
  API_RESPONSE_INVALID: { status: 500, http: false, meaning: 'client side: a 2xx answer is not JSON or does not match its contracts schema' },

  // --- start-up and wiring ---
  CONFIG_INVALID: { status: 500, http: false, meaning: 'an environment variable or config file is invalid; the message names it' },
  EVENT_INVALID: { status: 500, http: false, meaning: 'an event payload does not match its contracts schema' },
  EVENT_NOT_DURABLE: { status: 500, http: false, meaning: 'a JetStream consumer was asked for a core-NATS event' },
  TIMEOUT: { status: 500, http: false, meaning: 'an operation took longer than its limit' },

  // --- protocol engines (never HTTP answers; malformed input is dropped, not answered) ---
  DHCP_MALFORMED: { status: 500, http: false, meaning: 'a DHCP packet does not decode (dropped)' },
  DHCP_ENCODE: { status: 500, http: false, meaning: 'a DHCP field or option cannot be encoded' },
  DHCP_INVALID_ARGUMENT: { status: 500, http: false, meaning: 'DHCP client: an argument is invalid (e.g. chaddr)' },
  DHCP_NAK: { status: 500, http: false, meaning: 'DHCP client: the server answered DHCPNAK' },
  DHCP_SOCKET: { status: 500, http: false, meaning: 'DHCP client: the UDP socket failed' },
  DHCP_TIMEOUT: { status: 500, http: false, meaning: 'DHCP client: no reply after the retransmissions' },
  TFTP_MALFORMED: { status: 500, http: false, meaning: 'a TFTP packet does not decode (dropped)' },
  TFTP_FILE_NOT_FOUND: { status: 500, http: false, meaning: 'TFTP: no such file (answered with TFTP error 1)' },
  TFTP_ACCESS_VIOLATION: { status: 500, http: false, meaning: 'TFTP: the path leaves the root or is not a readable regular file (TFTP error 2)' },
  TFTP_ROOT_INVALID: { status: 500, http: false, meaning: 'the TFTP root is not a readable directory' },
  TFTP_ERROR: { status: 500, http: false, meaning: 'TFTP client: the server answered an ERROR packet' },
  TFTP_INVALID_ARGUMENT: { status: 500, http: false, meaning: 'TFTP client: an option is out of range (blksize, windowsize)' },
  TFTP_PROTOCOL: { status: 500, http: false, meaning: 'TFTP client: the server broke the protocol' },
  TFTP_SOCKET_ERROR: { status: 500, http: false, meaning: 'TFTP client: the UDP socket failed' },
  TFTP_TIMEOUT: { status: 500, http: false, meaning: 'TFTP client: no answer after the retransmissions' },
  TFTP_SHORT: { status: 500, http: false, meaning: 'TFTP client: fewer bytes than the announced tsize' },
  TRACKER_UNKNOWN_INFOHASH: { status: 500, http: false, meaning: 'tracker: announce for an infohash not in the catalog (BEP 3 failure reason)' },
  TRACKER_UNAVAILABLE: { status: 500, http: false, meaning: 'tracker: its store failed; the peer should retry (BEP 3 failure reason)' },
  TRACKER_LISTEN_FAILED: { status: 500, http: false, meaning: 'the tracker cannot listen on its HTTP or UDP port' },
  SYSLOG_MALFORMED: { status: 500, http: false, meaning: 'a syslog datagram does not parse (dropped)' },
  NETCONSOLE_MALFORMED: { status: 500, http: false, meaning: 'a netconsole datagram or fragment does not parse (dropped)' },
  SYSLOG_FRAMING: { status: 500, http: false, meaning: 'an RFC 6587 TCP syslog stream broke its framing (the connection is closed)' },
  SYSLOG_INVALID: { status: 500, http: false, meaning: 'a syslog facility or severity to encode is out of range' },

  // --- agent: node failure reasons (AgentReport.reason is `CODE: message`) ---
  AGENT_ERROR: { status: 500, http: false, meaning: 'node failure reason: an error of the agent without a code of its own' },
  BOOT_SCRIPT_INVALID: { status: 500, http: false, meaning: 'the iPXE script the agent fetched is not usable' },
  UNPACK_FAILED: { status: 500, http: false, meaning: 'tar could not unpack the image (emulated nodes)' },
  IMAGE_CORRUPT: { status: 500, http: false, meaning: 'node failure reason: the downloaded image’s sha256 differs from the catalog’s' },
  DISK_NOT_FOUND: { status: 500, http: false, meaning: 'node failure reason: no block disk, or the root-disk hint matches none' },
  DISK_TOO_SMALL: { status: 500, http: false, meaning: 'node failure reason: the chosen disk is smaller than the image needs' },
  DISK_MOUNTED: { status: 500, http: false, meaning: 'node failure reason: the chosen disk, a partition or a holder is mounted or swap' },
  DISK_WRITE_FAILED: { status: 500, http: false, meaning: 'node failure reason: partitioning, mkfs, unpacking, streaming or growing failed' },
  BOOTLOADER_FAILED: { status: 500, http: false, meaning: 'node failure reason: grub-install or grub-mkconfig failed in the image’s chroot' },
  BOOTLOADER_MISSING: { status: 500, http: false, meaning: 'node failure reason: a bootable image brings no grub' },
  IMAGE_FORMAT_INVALID: { status: 500, http: false, meaning: 'node failure reason: the image is not a known tar/raw format, or truncated' },
  KEXEC_FAILED: { status: 500, http: false, meaning: 'the agent could not kexec into the installed kernel' },

  // --- log sink: failure reasons read from a node's log lines (services/logsink rules/failure-rules.yaml) ---
  KERNEL_PANIC: { status: 500, http: false, meaning: 'node failure reason: the kernel panicked (`Kernel panic - not syncing:`)' },
  KERNEL_OOPS: { status: 500, http: false, meaning: 'node failure reason: a kernel oops or BUG (`Oops:`, `BUG:`)' },
  DISK_IO_ERROR: { status: 500, http: false, meaning: 'node failure reason: the block layer reported an I/O error on a disk' },
  FILESYSTEM_ERROR: { status: 500, http: false, meaning: 'node failure reason: ext4 reported an error (`EXT4-fs error`)' },
  OUT_OF_MEMORY: { status: 500, http: false, meaning: 'node failure reason: the kernel’s OOM killer killed a process' },
  NO_DHCP_LEASE: { status: 500, http: false, meaning: 'node failure reason: the install environment got no DHCP lease (its /init gave up)' },
  NIC_NOT_FOUND: { status: 500, http: false, meaning: 'node failure reason: the install environment found no network interface with the MAC it booted from (BOOTIF; agent/bootenv/init)' },
  AGENT_MISSING: { status: 500, http: false, meaning: 'node failure reason: the install environment has no node binary or agent bundle (agent/bootenv/init)' },
  AGENT_EXITED: { status: 500, http: false, meaning: 'node failure reason: the agent exited non-zero without reporting (agent/bootenv/init: `AGENT_EXITED: exit N`)' },
  REBOOT_FAILED: { status: 500, http: false, meaning: 'node failure reason: the install environment could not reboot, kexec or power off after the install (agent/bootenv/init)' },
  BOOT_TIMEOUT: { status: 500, http: false, meaning: 'node failure reason: a TFTP or HTTP download of the boot path timed out, or the node stayed in a boot-phase state (admitted, dhcp, booting) past its timeout on every retry' },
  INSTALL_TIMEOUT: { status: 500, http: false, meaning: 'node failure reason: the node stayed installing or verifying past its timeout without a report, on every retry' },
  CANCELLED: { status: 500, http: false, meaning: 'node failure reason: its deployment was cancelled while the node was admitted or installing' },
  FAILURE_BUDGET_EXCEEDED: { status: 500, http: false, meaning: 'deployment pause reason: more of its nodes failed than its failure budget allows; resume admits again' },
  SWARM_STALLED: { status: 500, http: false, meaning: 'node warning: no bytes from the BitTorrent swarm for a while (the agent adds the web seed)' },
  AGENT_CRASHED: { status: 500, http: false, meaning: 'node failure reason: the agent died (a segfault, or an error without a code of its own)' },

  // --- power: BMC operations (swarmboot.power.failed `code`; node failure reasons once the scheduler power-cycles) ---
  BMC_UNKNOWN: { status: 500, http: false, meaning: 'power: the request names no BMC and the inventory (SWARMBOOT_POWER_BMCS) has none for the node' },
  BMC_CREDENTIALS_UNKNOWN: { status: 500, http: false, meaning: 'power: the BMC names a credentials entry the credentials file does not hold, or a Redfish/IPMI BMC names none' },
  BMC_REF_INVALID: { status: 500, http: false, meaning: 'power: a request’s own BMC reference cannot be used as given (a QMP socket path that is not absolute, credentials on a QMP BMC); not retried' },
  BMC_TIMEOUT: { status: 500, http: false, meaning: 'power: the BMC did not answer within SWARMBOOT_POWER_TIMEOUT_MS, on every attempt' },
  BMC_UNREACHABLE: { status: 500, http: false, meaning: 'power: the BMC refused or reset the connection, on every attempt' },
  BMC_TLS_FAILED: { status: 500, http: false, meaning: 'power: the Redfish BMC’s certificate does not verify against SWARMBOOT_POWER_TLS_CA_FILE (or the system CAs); not retried' },
  BMC_AUTH_FAILED: { status: 500, http: false, meaning: 'power: the BMC refused the credentials (Redfish 401/403, IPMI RAKP or session failure); not retried' },
  BMC_REJECTED: { status: 500, http: false, meaning: 'power: the BMC refused the request — a Redfish 4xx other than 401/403, a QMP error reply, a VM without a NIC to PXE-boot (the message is the BMC’s); not retried' },
  BMC_SERVER_ERROR: { status: 500, http: false, meaning: 'power: the BMC answered 5xx on every attempt' },
  BMC_RESPONSE_INVALID: { status: 500, http: false, meaning: 'power: the BMC answered something that is not the Redfish JSON (or ipmitool output, or QMP message) expected, on every attempt' },
  BMC_SYSTEM_NOT_FOUND: { status: 500, http: false, meaning: 'power: the Redfish service has no ComputerSystem with the configured id (or none at all)' },
  IPMITOOL_FAILED: { status: 500, http: false, meaning: 'power: ipmitool could not be run (not installed) or failed without a recognised message' },

  // --- CLI (demo, VM lab, local stack) ---
  ASSETS_FAILED: { status: 500, http: false, meaning: 'building the demo assets (images, install environment) failed' },
  DEMO_INVALID: { status: 500, http: false, meaning: 'a demo option or input file is invalid' },
  DEMO_SERVICE_DIED: { status: 500, http: false, meaning: 'a service of the demo stack exited during the demo' },
  DEMO_TIMEOUT: { status: 500, http: false, meaning: 'the demo waited too long for a deployment or a condition' },
  STACK_START_FAILED: { status: 500, http: false, meaning: 'a service of the local stack did not start or become healthy' },
  LAB_FAILED: { status: 500, http: false, meaning: 'the VM lab could not set up its network or start qemu' },
  VM_CONSOLE_TIMEOUT: { status: 500, http: false, meaning: 'a VM’s console did not show the expected text in time' },
  VM_EXITED: { status: 500, http: false, meaning: 'a VM exited while the lab waited for it' },
} as const satisfies Record<string, { status: number; http?: false; meaning: string }>;

/** A code of the registry: a typo in `new SwarmbootError('…')` fails to compile. */
export type ErrorCode = keyof typeof ErrorCodes;

/** Whether `code` (e.g. read from an HTTP body) is one of the registry's. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorCodes, code);
}

/** The HTTP status an API answers `code` with (500 for codes that are never an API answer). */
export function httpStatusOf(code: ErrorCode): number {
  return ErrorCodes[code].status;
}

/**
 * The one base error of swarmboot: a `code` of the registry callers branch on, a `cause`, and
 * context fields. The HTTP APIs answer it with `httpStatusOf(code)` and a body `{ code, message }`.
 */
export class SwarmbootError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, unknown>>;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwarmbootError';
    this.code = code;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}

export function isSwarmbootError(err: unknown, code?: ErrorCode): err is SwarmbootError {
  return err instanceof SwarmbootError && (code === undefined || err.code === code);
}
