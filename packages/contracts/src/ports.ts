/**
 * Default ports. Real deployments use the protocol ports (DHCP 67, TFTP 69, syslog 514); the
 * unprivileged defaults below let every service run without root, as `swarmboot up` and the demo do.
 */
export const DefaultPorts = {
  dhcp: 6767,
  /** where relayed replies go when the relay did not ask for its source port (RFC 2131 §4.1: 67) */
  dhcpRelay: 67,
  tftp: 6969,
  tracker: 8000,
  seeder: 8001,
  scheduler: 8080,
  /** syslog over UDP (RFC 5426; protocol port 514) */
  syslog: 5514,
  /**
   * syslog over TCP (RFC 6587), the same number as UDP as rsyslog and syslog-ng use 514 for both;
   * RFC 6587 registers no port of its own (601 is RFC 3195's, and needs root).
   */
  syslogTcp: 5514,
  /** netconsole's default target port (Linux Documentation/networking/netconsole.rst, "tgt-port") */
  netconsole: 6666,
  ops: { dhcp: 9101, tftp: 9102, tracker: 9103, seeder: 9104, scheduler: 9105, logsink: 9106, power: 9107 },
} as const;

/**
 * The node network of the demo and of `swarmboot up`: emulated nodes live on loopback addresses
 * (Linux routes all of 127.0.0.0/8 to lo), each relaying its DHCP through `relay`, the subnet's
 * giaddr and router; leases come from `pool`.
 */
export const DemoNet = {
  subnet: '127.77.0.0/16',
  pool: '127.77.1.1-127.77.255.254',
  relay: '127.77.0.1',
} as const;
