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
}

/** The service's Prometheus metrics, registered on `registry` (one registry per server instance). */
export function createTftpMetrics(registry: Registry): TftpMetrics {
  const registers = [registry];
  return {
    dropped: new Counter({ name: 'swarmboot_tftp_dropped_total', help: 'datagrams dropped without an answer, by reason', labelNames: ['reason'], registers }),
    transfers: new Counter({ name: 'swarmboot_tftp_transfers_total', help: 'read requests by result (completed, failed, aborted: ERROR 8 after OACK, refused: answered with ERROR)', labelNames: ['result'], registers }),
    sentBytes: new Counter({ name: 'swarmboot_tftp_sent_bytes_total', help: 'DATA payload bytes sent, retransmissions included (bytes)', registers }),
    fileBytes: new Counter({ name: 'swarmboot_tftp_file_bytes_total', help: 'bytes of files delivered by completed transfers (bytes)', registers }),
    retransmissions: new Counter({ name: 'swarmboot_tftp_retransmissions_total', help: 'packets resent after a timeout', registers }),
    active: new Gauge({ name: 'swarmboot_tftp_active_transfers', help: 'transfers in progress', registers }),
    duration: new Histogram({ name: 'swarmboot_tftp_transfer_duration_seconds', help: 'duration of completed transfers (seconds)', buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers }),
  };
}
