import { isUtf8 } from 'node:buffer';

/**
 * JSON string literals written straight from UTF-8 bytes into a buffer, byte for byte what
 * `Buffer.from(JSON.stringify(bytes.toString('utf8')))` gives, without making either string:
 * the container-log hot path turns millions of lines into rows this way (docs/performance.md).
 * Hand-written because no library escapes from bytes to bytes; the equivalence is tested
 * against JSON.stringify on every byte value and on random input.
 *
 *  - `"` and `\` are escaped, \b \t \n \f \r get their short escapes, other bytes below 0x20
 *    become \u00XX (lowercase hex, as JSON.stringify writes them);
 *  - valid UTF-8 is copied as it is (JSON.stringify escapes only lone surrogates, which a
 *    UTF-8 decoder never produces);
 *  - invalid UTF-8 is not handled here: the caller falls back to the string path, which
 *    replaces it as Buffer#toString does.
 */

const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Escape of each byte below 0x80: 0 copy as is, 1 short escape (second byte in SHORT), 2 \u00XX. */
const KIND = new Uint8Array(128);
const SHORT = new Uint8Array(128);
for (let b = 0; b < 0x20; b++) KIND[b] = 2;
for (const [b, c] of [
  [0x08, 0x62],
  [0x09, 0x74],
  [0x0a, 0x6e],
  [0x0c, 0x66],
  [0x0d, 0x72],
  [0x22, 0x22],
  [0x5c, 0x5c],
] as const) {
  KIND[b] = 1;
  SHORT[b] = c;
}

/** The most bytes a JSON string literal of `length` source bytes can take (every byte as \u00XX, plus the quotes). */
export function maxJsonStringBytes(length: number): number {
  return length * 6 + 2;
}

/**
 * Write `src[start, end)` as a JSON string literal (with its quotes) at `out[pos]`; returns the
 * position after it, or -1 when the bytes are not valid UTF-8 (nothing useful was written).
 * `out` must have maxJsonStringBytes(end - start) bytes of room from `pos`.
 */
export function writeJsonString(src: Buffer, start: number, end: number, out: Buffer, pos: number): number {
  let p = pos;
  out[p++] = 0x22;
  let run = start;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b >= 0x80) {
      ascii = false;
      continue;
    }
    const kind = KIND[b]!;
    if (kind === 0) continue;
    if (i > run) p += src.copy(out, p, run, i);
    out[p++] = 0x5c;
    if (kind === 1) out[p++] = SHORT[b]!;
    else {
      out[p++] = 0x75;
      out[p++] = 0x30;
      out[p++] = 0x30;
      out[p++] = HEX[b >> 4]!;
      out[p++] = HEX[b & 15]!;
    }
    run = i + 1;
  }
  if (end > run) p += src.copy(out, p, run, end);
  if (!ascii && !isUtf8(src.subarray(start, end))) return -1;
  out[p++] = 0x22;
  return p;
}
