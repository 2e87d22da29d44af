import { SwarmbootError } from '@swarmboot/contracts';

const D = 0x64;
const L = 0x6c;
const I = 0x69;
const E = 0x65;
const COLON = 0x3a;
const MINUS = 0x2d;
const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

/**
 * Checks that `buf` is exactly one bencoded value (BEP 3: `i<int>e`, `<length>:<bytes>`, `l…e`,
 * `d…e`) before it reaches bencode@4 (under parse-torrent and webtorrent), whose decoder loops
 * forever on a negative string length (`l-3:abce`; found by fuzzing, bencode 4.0.1 is the latest).
 * Iterative, linear in the length. Does not check dictionary key order or types inside.
 * Throws SwarmbootError TORRENT_INVALID naming the offset.
 */
export function checkBencode(buf: Uint8Array): void {
  const fail = (at: number, what: string): never => {
    throw new SwarmbootError('TORRENT_INVALID', `not a valid .torrent: ${what} at byte ${at}`, { context: { offset: at } });
  };
  let i = 0;
  let depth = 0;
  do {
    const c = buf[i];
    if (c === D || c === L) {
      depth++;
      i++;
    } else if (c === E) {
      if (depth === 0) fail(i, 'an end without a list or dictionary');
      depth--;
      i++;
    } else if (c === I) {
      let j = i + 1;
      if (buf[j] === MINUS) j++;
      const first = j;
      while (isDigit(buf[j])) j++;
      if (j === first || buf[j] !== E) fail(i, 'a malformed integer');
      i = j + 1;
    } else if (isDigit(c)) {
      // a string length is plain digits: no sign (bencode@4 takes "-3:" and jumps back)
      let len = 0;
      while (isDigit(buf[i])) len = len * 10 + (buf[i++]! - 0x30);
      if (buf[i] !== COLON) fail(i, 'a string length without its colon');
      i += 1 + len;
      if (i > buf.length) fail(buf.length, 'a string that runs past the end');
    } else {
      fail(i, c === undefined ? 'the end of the data' : `byte 0x${c.toString(16)}`);
    }
  } while (depth > 0);
  if (i !== buf.length) fail(i, 'bytes after the value');
}
