import { randomBytes } from 'node:crypto';
import { maxJsonStringBytes, writeJsonString } from '../../shared/util/jsonBytes.js';

/** What the string path writes: JSON.stringify of the decoded bytes, as UTF-8. */
const reference = (bytes: Buffer): string => JSON.stringify(bytes.toString('utf8'));

function viaBytes(bytes: Buffer, offset = 0): string | undefined {
  const padded = Buffer.concat([Buffer.alloc(offset, 0x41), bytes]);
  const out = Buffer.alloc(maxJsonStringBytes(bytes.length) + 7, 0xff);
  const end = writeJsonString(padded, offset, padded.length, out, 3);
  return end < 0 ? undefined : out.toString('utf8', 3, end);
}

describe('writeJsonString: JSON string literals from UTF-8 bytes', () => {
  test('every single byte value, alone and inside text, is what JSON.stringify writes (invalid UTF-8 is refused)', () => {
    for (let b = 0; b < 256; b++) {
      for (const bytes of [Buffer.from([b]), Buffer.concat([Buffer.from('ab'), Buffer.from([b]), Buffer.from('cd')])]) {
        const got = viaBytes(bytes, 5);
        if (b >= 0x80) expect(got).toBeUndefined();
        else expect(got).toBe(reference(bytes));
      }
    }
  });

  test('quotes, backslashes, control characters, tabs, CR, multi-byte characters, U+2028, a BOM and the empty string', () => {
    for (const text of ['', 'plain', 'say "hi"', 'C:\\path\\x', 'tab\there', 'cr\r', 'bell\u0007 del\u007f', 'é ü 漢字 🚀', 'line\u2028sep\u2029', '\ufeffbom', '\u0000\u001f']) {
      expect(viaBytes(Buffer.from(text))).toBe(JSON.stringify(text));
    }
  });

  test('random valid UTF-8 and random bytes: equal to the string path, or refused when invalid', () => {
    const alphabet = ['a', '"', '\\', '\n', '\u0001', 'é', '€', '𝄞', ' ', '\u2028'];
    for (let n = 0; n < 500; n++) {
      let text = '';
      for (let i = 0; i < 40; i++) text += alphabet[Math.floor(Math.random() * alphabet.length)];
      expect(viaBytes(Buffer.from(text))).toBe(JSON.stringify(text));
      const raw = randomBytes(30);
      const got = viaBytes(raw);
      if (got !== undefined) expect(got).toBe(reference(raw));
      else expect(Buffer.from(raw.toString('utf8')).equals(raw)).toBe(false);
    }
  });

  test('the worst case fits maxJsonStringBytes', () => {
    const controls = Buffer.alloc(100, 0x01);
    const out = Buffer.alloc(maxJsonStringBytes(controls.length));
    expect(writeJsonString(controls, 0, controls.length, out, 0)).toBe(out.length);
  });
});
