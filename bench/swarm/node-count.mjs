// Diagnostic variant of node.mjs: counts bittorrent-protocol wire calls by kind (messages sent:
// have, request, piece, choke, ...; received: _onHave, _onPiece, _onChoke, ...) and prints the
// counts as one JSON line on stderr at SIGTERM. With run.sh:
//   NODE_SCRIPT=node-count.mjs KEEP_DIR=/tmp/keep sudo -E bench/swarm/run.sh swarm 4 IMG 32
// then /tmp/keep/run-32-swarm/<i>.err holds node i's counts.
import Wire from 'bittorrent-protocol';

const counts = {};
const proto = Wire.prototype;
for (const m of ['have', 'request', 'piece', 'cancel', 'interested', 'uninterested', 'choke', 'unchoke', 'keepAlive', '_onHave', '_onRequest', '_onPiece', '_onCancel', '_onChoke', '_onUnchoke', '_onBitField']) {
  const original = proto[m];
  proto[m] = function (...args) {
    counts[m] = (counts[m] ?? 0) + 1;
    return original.apply(this, args);
  };
}
process.on('SIGTERM', () => process.stderr.write(JSON.stringify(counts) + '\n'));
await import('./node.mjs');
