/**
 * Redis key layout shared between services. A key string is spelled only here.
 * Every key starts with `sb:` so one Redis can be shared with other software.
 */
export const RedisKeys = {
  /** hash: lease of a client, by chaddr (dhcp) */
  lease: (chaddr: string) => `sb:dhcp:lease:${chaddr}`,
  /** string: chaddr holding an address (dhcp) */
  leaseByIp: (ip: string) => `sb:dhcp:ip:${ip}`,
  /** string: next pool offset to try when allocating in a subnet (dhcp; round robin, see its offer script) */
  poolCursor: (subnetCidr: string) => `sb:dhcp:cursor:${subnetCidr}`,
  /** sorted set: addresses of a subnet held by offers not yet requested → hold expiry, ms (dhcp; bounded per subnet, see its offer script) */
  heldOffers: (subnetCidr: string) => `sb:dhcp:held:${subnetCidr}`,
  /** hash: an image (seeder writes, others read) — field `json`: the ImageRecord; field `torrent`: its .torrent bytes (seeder replicas fetch the image with them); field `manifest`: its SignedImageManifest JSON, when signed */
  image: (name: string) => `sb:image:${name}`,
  /** set of image names */
  images: 'sb:images',
  /** hash: infohash → image name; the tracker accepts announces only for these */
  imageInfoHashes: 'sb:image:infohashes',
  /** hash: node record (scheduler) */
  node: (nodeId: string) => `sb:node:${nodeId}`,
  /** sorted set of node ids (score: registration order) */
  nodes: 'sb:nodes',
  /** string: node id by MAC (lower-case, colon-separated) */
  nodeByMac: (mac: string) => `sb:node:mac:${mac}`,
  /** string: node id by its leased IPv4 address (scheduler) */
  nodeByIp: (ip: string) => `sb:node:ip:${ip}`,
  /** string: node id by hostname */
  nodeByHostname: (hostname: string) => `sb:node:host:${hostname}`,
  /** hash: deployment record */
  deployment: (id: string) => `sb:deploy:${id}`,
  /** sorted set of deployment ids (score: creation time, ms) */
  deployments: 'sb:deploys',
  /** sorted set of the deployments the admission tick walks (running or paused; score: creation ms); a finished one is removed by the next tick */
  activeDeployments: 'sb:deploys:active',
  /** string, expiring: a scheduler replica holds the admission tick of this deployment (SET NX PX); replicas tick in turn, not at once */
  admissionTick: (deploymentId: string) => `sb:deploy:${deploymentId}:tick`,
  /** stream: a node's log lines (logsink writes, the API reads) */
  nodeLog: (nodeId: string) => `sb:log:${nodeId}`,
  /**
   * string (the rule id), expiring: the log sink classified this node's install attempt (`kind`
   * `failure` or `warning`); SET NX makes the classification once per attempt across sink replicas
   */
  nodeClassified: (nodeId: string, deploymentId: string, attempt: number, kind: 'failure' | 'warning') => `sb:classified:${nodeId}:${deploymentId}:${attempt}:${kind}`,
  /** stream: a node's timeline (state changes with reasons) */
  nodeTimeline: (nodeId: string) => `sb:timeline:${nodeId}`,
  /**
   * stream: the scheduler's outbox of facts: the script of each node-state change appends its
   * `node.state` fact (and a deployment's last one its `job.completed`) here with the change
   * itself; a fact leaves once published to JetStream (`Events.nodeStateChanged`, `Events.jobCompleted`)
   */
  factOutbox: 'sb:outbox:facts',
  /** integer: outbox reads (scheduler); the read's write, so WAIT confirms the facts read are on the replicas */
  factOutboxReads: 'sb:outbox:facts:reads',
  /**
   * string with a TTL: the token of the scheduler replica relaying the outbox now (a lease, so two
   * replicas never publish the same fact at once; core-NATS subscribers would see it twice)
   */
  factOutboxRelay: 'sb:outbox:facts:relay',
  /**
   * sorted set: a node's flight-recorder events besides its state changes and log lines (leases,
   * TFTP transfers, swarm progress, failure classifications), member = the entry as JSON carrying
   * its CloudEvent id (so a redelivered event adds nothing), score = the event's time (ms);
   * scheduler's `scheduler-timeline` consumer writes, the timeline API reads
   */
  nodeEvents: (nodeId: string) => `sb:events:${nodeId}`,
  /** string `<ms> <bytes>`, expiring: the last swarm-progress entry recorded for a node (its time and bytes; gates the next and gives the rate) */
  nodeProgressMark: (nodeId: string) => `sb:progress-mark:${nodeId}`,
  /**
   * string, JSON: an Idempotency-Key's claim and then its stored response (kit `idempotency`);
   * `route` is the method and route pattern (`POST /v1/deployments`), so a key is scoped per route.
   * Expires: the claim after IDEMPOTENCY_CLAIM_MS, the response after the service's TTL.
   */
  idempotency: (route: string, key: string) => `sb:idem:${route}:${key}`,
  /** sorted set: peers (`ip:port`) of a swarm, score = last announce (ms); shared by tracker replicas */
  trackerPeers: (infoHash: string) => `sb:tracker:{${infoHash}}:peers`,
  /** sorted set: the seeding (left = 0) subset of trackerPeers, same scores */
  trackerSeeds: (infoHash: string) => `sb:tracker:{${infoHash}}:seeds`,
  /** hash: `ip:port` → peer id (40 hex digits) of trackerPeers, for non-compact replies */
  trackerPeerIds: (infoHash: string) => `sb:tracker:{${infoHash}}:ids`,
} as const;
