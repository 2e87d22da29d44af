import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Why a datagram was dropped without changing anything (label `reason` of swarmboot_tftp_dropped_total). */
export type DropReason = 'malformed' | 'unexpected_opcode' | 'duplicate_request' | 'duplicate_ack' | 'unknown_tid';
/** How a request ended (label `result` of swarmboot_tftp_transfers_total); `refused` got an ERROR instead of a transfer. */
export type TransferResult = 'completed' | 'failed' | 'aborted' | 'refused';

export interface TftpMetrics {
  readonly dropped: Counter<'reason'>;
  readonly transfers: Counter<'result'>;
  readonly sentBytes: Counter;
  readonly fileBytes: Counter;
  readonly retransmissions: Counter;
  readonly active: Gauge;
  readonly duration: Histogram;
  readonly queued: Counter;
  readonly admittedOverLimit: Counter;
}

/** The service's Prometheus metrics, registered on `registry` (one registry per server instance). */
export function createTftpMetrics(registry: Registry): TftpMetrics {
  const registers = [registry];
  return {
    dropped: new Counter({ name: 'swarmboot_tftp_dropped_total', help: 'datagrams dropped without an answer, by reason', labelNames: ['reason'], registers }),
    transfers: new Counter({ name: 'swarmboot_tftp_transfers_total', help: 'read requests by result (completed, failed, aborted: ERROR 8 after OACK, refused: answered with ERROR)', labelNames: ['result'], registers }),
    sentBytes: new Counter({ name: 'swarmboot_tftp_sent_bytes_total', help: 'DATA payload bytes sent, retransmissions included (bytes)', registers }),
    fileBytes: new Counter({ name: 'swarmboot_tftp_file_bytes_total', help: 'bytes of files delivered by completed transfers (bytes)', registers }),
    retransmissions: new Counter({ name: 'swarmboot_tftp_retransmissions_total', help: 'DATA/OACK packets sent again (after a timeout, or after a gap an RFC 7440 client reported)', registers }),
    active: new Gauge({ name: 'swarmboot_tftp_active_transfers', help: 'transfers in progress', registers }),
    queued: new Counter({ name: 'swarmboot_tftp_requests_queued_total', help: 'read requests that waited for a transfer slot (SWARMBOOT_TFTP_MAX_TRANSFERS reached)', registers }),
    admittedOverLimit: new Counter({ name: 'swarmboot_tftp_admitted_over_limit_total', help: 'queued requests started over the limit so they are answered within 1 s', registers }),
    duration: new Histogram({ name: 'swarmboot_tftp_transfer_duration_seconds', help: 'duration of completed transfers (seconds)', buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers }),
  };
}
