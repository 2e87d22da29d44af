import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadTransfer, type TransferStep } from '../src/domain/read-transfer.js';
import type { TftpPacket } from '../src/protocol/tftp.js';

function data(step: TransferStep): { block: number; length: number } {
  assert.equal(step.send?.length, 1, `expected one packet, got ${JSON.stringify(step)}`);
  assert.equal(step.send[0]?.kind, 'DATA', `expected DATA, got ${JSON.stringify(step)}`);
  const p = step.send[0] as Extract<TftpPacket, { kind: 'DATA' }>;
  return { block: p.block, length: p.data.length };
}

/** Runs a whole lock-step transfer, acknowledging every block; returns the DATA blocks seen. */
function runToEnd(t: ReadTransfer, first: TransferStep): { block: number; length: number }[] {
  const seen: { block: number; length: number }[] = [];
  let step = first;
  while (!step.end) {
    const d = data(step);
    seen.push(d);
    step = t.onPacket({ kind: 'ACK', block: d.block });
  }
  assert.deepEqual(step.end, { kind: 'completed' });
  return seen;
}

test('a file of an exact multiple of blksize ends with an empty DATA block', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(1024), blksize: 512, oack: undefined, maxRetries: 3 });
  const blocks = runToEnd(t, t.start());
  assert.deepEqual(blocks, [
    { block: 1, length: 512 },
    { block: 2, length: 512 },
    { block: 3, length: 0 },
  ]);
  assert.equal(t.bytesSent, 1024);
});

test('an empty file is one empty DATA block', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(0), blksize: 512, oack: undefined, maxRetries: 3 });
  assert.deepEqual(runToEnd(t, t.start()), [{ block: 1, length: 0 }]);
});

test('block numbers roll over from 65535 to 0', () => {
  const blksize = 8;
  const size = 65537 * blksize + 3; // blocks 1..65538; 65536, 65537, 65538 go out as 0, 1, 2
  const t = new ReadTransfer({ data: Buffer.alloc(size), blksize, oack: undefined, maxRetries: 3 });
  const blocks = runToEnd(t, t.start());
  assert.equal(blocks.length, 65538);
  assert.deepEqual(
    blocks.slice(65533).map((b) => b.block),
    [65534, 65535, 0, 1, 2],
  );
  assert.equal(blocks.at(-1)?.length, 3);
  assert.equal(t.bytesSent, size);
});

test('OACK first, then DATA 1 after ACK 0', () => {
  const oack = new Map([['tsize', '5']]);
  const t = new ReadTransfer({ data: Buffer.from('hello'), blksize: 512, oack, maxRetries: 3 });
  const first = t.start();
  assert.deepEqual(first.send, [{ kind: 'OACK', options: oack }]);
  assert.deepEqual(runToEnd(t, t.onPacket({ kind: 'ACK', block: 0 })), [{ block: 1, length: 5 }]);
});

test('a duplicate ACK is ignored, never answered with a resend (RFC 1123 §4.2.3.1)', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(2000), blksize: 512, oack: undefined, maxRetries: 3 });
  data(t.start());
  assert.equal(data(t.onPacket({ kind: 'ACK', block: 1 })).block, 2);
  const dup = t.onPacket({ kind: 'ACK', block: 1 });
  assert.equal(dup.send, undefined);
  assert.equal(dup.ignored, 'duplicate_ack');
  assert.equal(data(t.onPacket({ kind: 'ACK', block: 2 })).block, 3);
});

test('a timeout resends the last DATA; too many timeouts in a row fail the transfer', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(2000), blksize: 512, oack: undefined, maxRetries: 2 });
  data(t.start());
  const next = t.onPacket({ kind: 'ACK', block: 1 });
  const r1 = t.onTimeout();
  assert.equal(r1.retransmit, true);
  assert.deepEqual(r1.send, next.send);
  // an ACK in between resets the count of consecutive timeouts
  data(t.onPacket({ kind: 'ACK', block: 2 }));
  assert.equal(t.onTimeout().retransmit, true);
  assert.equal(t.onTimeout().retransmit, true);
  const last = t.onTimeout();
  assert.equal(last.end?.kind, 'failed');
  assert.deepEqual(last.send, [{ kind: 'ERROR', code: 0, message: 'transfer timed out' }]);
  assert.equal(t.retransmissions, 3);
  assert.equal(t.done, true);
  assert.deepEqual(t.onPacket({ kind: 'ACK', block: 3 }), {});
});

test('ERROR 8 after the OACK ends quietly (UEFI tsize probe); other client errors fail', () => {
  const probe = new ReadTransfer({ data: Buffer.alloc(10), blksize: 512, oack: new Map([['tsize', '10']]), maxRetries: 3 });
  probe.start();
  assert.equal(probe.onPacket({ kind: 'ERROR', code: 8, message: 'tsize only' }).end?.kind, 'aborted');

  const mid = new ReadTransfer({ data: Buffer.alloc(1000), blksize: 512, oack: undefined, maxRetries: 3 });
  mid.start();
  const end = mid.onPacket({ kind: 'ERROR', code: 8, message: 'late' }).end;
  assert.equal(end?.kind, 'failed');
});

test('packets that make no sense on a read transfer are ignored', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(1000), blksize: 512, oack: undefined, maxRetries: 3 });
  t.start();
  assert.deepEqual(t.onPacket({ kind: 'DATA', block: 1, data: Buffer.alloc(0) }), { ignored: 'unexpected_opcode' });
});

/** Block numbers of the DATA packets of a step. */
function blocks(step: TransferStep): number[] {
  return (step.send ?? []).map((p) => {
    assert.equal(p.kind, 'DATA');
    return (p as Extract<TftpPacket, { kind: 'DATA' }>).block;
  });
}

test('windowsize: a window of blocks per ACK; an ACK of the last block moves the window (RFC 7440 §4)', () => {
  // 10 blocks of 8 bytes + a final empty block = 11 blocks
  const t = new ReadTransfer({ data: Buffer.alloc(80), blksize: 8, windowsize: 4, oack: new Map([['windowsize', '4']]), maxRetries: 3 });
  assert.equal(t.start().send?.[0]?.kind, 'OACK');
  assert.deepEqual(blocks(t.onPacket({ kind: 'ACK', block: 0 })), [1, 2, 3, 4]);
  assert.deepEqual(blocks(t.onPacket({ kind: 'ACK', block: 4 })), [5, 6, 7, 8]);
  // the client saw a gap after block 5: it acknowledges 5, the server resumes at 6
  const gap = t.onPacket({ kind: 'ACK', block: 5 });
  assert.deepEqual(blocks(gap), [6, 7, 8, 9]);
  assert.equal(t.retransmissions, 3, 'blocks 6..8 went out twice');
  // a duplicate ACK (5 again) is not answered
  assert.deepEqual(t.onPacket({ kind: 'ACK', block: 5 }), { ignored: 'duplicate_ack' });
  // an ACK beyond what was sent is not believed either
  assert.deepEqual(t.onPacket({ kind: 'ACK', block: 10 }), { ignored: 'duplicate_ack' });
  // a timeout resends the whole unacknowledged window
  const r = t.onTimeout();
  assert.equal(r.retransmit, true);
  assert.deepEqual(blocks(r), [6, 7, 8, 9]);
  assert.deepEqual(blocks(t.onPacket({ kind: 'ACK', block: 9 })), [10, 11]);
  assert.deepEqual(t.onPacket({ kind: 'ACK', block: 11 }).end, { kind: 'completed' });
  assert.equal(t.bytesSent, 80);
});

test('windowsize: block numbers roll over inside a window', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(65540 * 8), blksize: 8, windowsize: 8, oack: undefined, maxRetries: 3 });
  let step = t.start();
  let last = 0;
  let sent = 0;
  while (!step.end) {
    const b = blocks(step);
    sent += b.length;
    last = b.at(-1)!;
    step = t.onPacket({ kind: 'ACK', block: last });
  }
  assert.deepEqual(step.end, { kind: 'completed' });
  assert.equal(sent, 65541);
  assert.equal(last, 65541 & 0xffff);
  assert.equal(t.retransmissions, 0);
});

test('the driver may fail a transfer on its time budget (giveUp) before the count of retries', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(100), blksize: 512, oack: undefined, maxRetries: 100 });
  t.start();
  const s = t.onTimeout(true);
  assert.equal(s.end?.kind, 'failed');
  assert.equal(s.send?.[0]?.kind, 'ERROR');
});
