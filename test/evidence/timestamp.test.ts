import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTimestamp, requestTimestamp, TimestampError } from '../../shared/evidence/timestamp.js';
import { opensslVerify, startTsa, type TsaServer } from '../fixtures/tsa/server.js';

let tsa: TsaServer;
let dir: string;
beforeAll(async () => {
  tsa = await startTsa();
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-ts-'));
});
afterAll(async () => {
  await tsa?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('a real TSA (openssl ts -reply) timestamps a hash; the token verifies here and with openssl ts -verify', async () => {
  const hash = sha('manifest bytes');
  const der = await requestTimestamp({ url: tsa.url, sha256: hash });
  const check = await checkTimestamp(der, Buffer.from('manifest bytes'), { trustedCaPem: tsa.caPem });
  expect(check).toMatchObject({ status: 'passed', policy: '1.3.6.1.4.1.55555.1' });
  expect(check.tsa).toContain('aks-evidence test TSA');
  expect(Date.parse(check.genTime!)).toBeGreaterThan(Date.now() - 60_000);
  // A third party's own tool agrees on the very bytes stored.
  const file = join(dir, 'manifest.json.tsr');
  await writeFile(file, der);
  expect((await opensslVerify(file, hash, tsa.caFile)).ok).toBe(true);
  expect((await opensslVerify(file, sha('other'), tsa.caFile)).ok).toBe(false);
});

test('another hash, another CA, a flipped byte, no CA: failed or not configured, never passed', async () => {
  const hash = sha('manifest v1');
  const v1 = Buffer.from('manifest v1');
  const der = await requestTimestamp({ url: tsa.url, sha256: hash });
  expect((await checkTimestamp(der, Buffer.from('manifest v2'), { trustedCaPem: tsa.caPem })).status).toBe('failed');
  const otherCa = await readFile(tsa.otherCaFile, 'utf8');
  const wrongCa = await checkTimestamp(der, v1, { trustedCaPem: otherCa });
  expect(wrongCa.status).toBe('failed');
  expect(wrongCa.detail).toMatch(/chain|not valid/);
  const noCa = await checkTimestamp(der, v1);
  expect(noCa.status).toBe('not-configured');
  expect(noCa.detail).toMatch(/--tsa-ca/);
  // A byte of the signature flipped (near the end of the DER).
  const flipped = Buffer.from(der);
  flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 0xff;
  expect((await checkTimestamp(flipped, v1, { trustedCaPem: tsa.caPem })).status).toBe('failed');
  expect((await checkTimestamp(Buffer.from('not der'), v1, { trustedCaPem: tsa.caPem })).status).toBe('failed');
});

test('a TSA that answers an error is a TimestampError naming the status', async () => {
  tsa.failNext.status = 503;
  tsa.failNext.times = 1;
  await expect(requestTimestamp({ url: tsa.url, sha256: sha('x') })).rejects.toThrow(TimestampError);
  await expect(requestTimestamp({ url: 'http://127.0.0.1:1/tsa', sha256: sha('x'), timeoutMs: 2000 })).rejects.toThrow(/could not be reached/);
});
