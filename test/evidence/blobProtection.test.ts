import { BlobServiceClient } from '@azure/storage-blob';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openBlobBundle } from '../../shared/evidence/blobStore.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { writeSampleBundle } from './sampleBundle.js';

/**
 * Azurite cannot say yes to a legal hold, and cannot refuse index tags. This loopback proxy in
 * front of it plays the parts of the real service that the store must handle honestly:
 *  - 'worm':      setLegalHold / setImmutabilityPolicy succeed, and List Blobs reports them
 *                 (<LegalHold>, <ImmutabilityPolicyUntilDate>) like the real service does;
 *                 container properties report version-level immutability enabled;
 *  - 'refuse':    both answer 409 on every blob (as for a container without immutability support);
 *  - 'no-tags':   a Put Blob or Put Block List carrying x-ms-tags is refused with 403 (identity lacks tags/write).
 */
type Mode = 'worm' | 'refuse' | 'no-tags';

interface Proxy {
  url: string;
  connectionString: string;
  mode: Mode;
  held: Set<string>;
  policies: Map<string, string>;
  calls: string[];
  close(): Promise<void>;
}

async function startProxy(target: AzuriteBlob, mode: Mode): Promise<Proxy> {
  const targetUrl = new URL(target.blobEndpoint);
  const state = { mode, held: new Set<string>(), policies: new Map<string, string>(), calls: [] as string[] };
  const forward = (req: IncomingMessage, res: ServerResponse, rewrite?: (body: string) => string): void => {
    const upstream = httpRequest({ host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (!rewrite) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.from(rewrite(Buffer.concat(chunks).toString('utf8')));
        const headers = { ...up.headers, 'content-length': String(body.byteLength) };
        delete headers['transfer-encoding'];
        res.writeHead(up.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const fail = (res: ServerResponse, status: number, code: string, message: string): void => {
    const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, 'x-ms-version': '2025-11-05' });
    res.end(body);
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://proxy');
    const comp = u.searchParams.get('comp');
    const blobName = decodeURIComponent(u.pathname.split('/').slice(3).join('/'));
    state.calls.push(`${req.method} ${comp ?? ''}`);
    if (req.method === 'PUT' && (comp === 'legalhold' || comp === 'immutabilityPolicies')) {
      req.resume();
      if (state.mode === 'refuse') return fail(res, 409, 'ImmutableStorageNotEnabledSimulated', 'simulated: container has no version-level immutability support');
      const headers: Record<string, string> = { 'x-ms-version': '2025-11-05', 'x-ms-request-id': 'proxy' };
      if (comp === 'legalhold') {
        state.held.add(blobName);
        headers['x-ms-legal-hold'] = 'true';
      } else {
        const until = String(req.headers['x-ms-immutability-policy-until-date']);
        state.policies.set(blobName, until);
        headers['x-ms-immutability-policy-until-date'] = until;
        headers['x-ms-immutability-policy-mode'] = String(req.headers['x-ms-immutability-policy-mode']);
      }
      res.writeHead(200, headers);
      res.end();
      return;
    }
    if (state.mode === 'no-tags' && req.method === 'PUT' && (comp === 'blocklist' || comp === null) && req.headers['x-ms-tags']) {
      req.resume();
      return fail(res, 403, 'AuthorizationPermissionMismatch', 'simulated: This request is not authorized to perform this operation using this permission.');
    }
    if (state.mode === 'worm' && req.method === 'GET' && comp === 'list') {
      return forward(req, res, (xml) =>
        xml.replace(/<Blob><Name>([^<]*)<\/Name>([\s\S]*?)<Properties>/g, (whole, name: string) => {
          const extra =
            (state.held.has(name) ? '<LegalHold>true</LegalHold>' : '') +
            (state.policies.has(name)
              ? `<ImmutabilityPolicyUntilDate>${state.policies.get(name) ?? ''}</ImmutabilityPolicyUntilDate><ImmutabilityPolicyMode>unlocked</ImmutabilityPolicyMode>`
              : '');
          return whole + extra;
        }),
      );
    }
    if (state.mode === 'worm' && (req.method === 'GET' || req.method === 'HEAD') && u.searchParams.get('restype') === 'container' && !comp) {
      // Container properties: the real service sends this header when version-level immutability is on.
      const upstream = httpRequest({ host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-ms-immutable-storage-with-versioning-enabled': 'true' });
        up.pipe(res);
      });
      req.pipe(upstream);
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    url,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${url};`,
    get mode() {
      return state.mode;
    },
    held: state.held,
    policies: state.policies,
    calls: state.calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let azurite: AzuriteBlob;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

async function container(name: string): Promise<void> {
  await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name).createIfNotExists();
}

test('where the service grants legal hold and retention, they are applied to every artifact and reported as applied', async () => {
  const proxy = await startProxy(azurite, 'worm');
  try {
    await container('worm');
    const clock = () => new Date(Date.UTC(2026, 10, 22, 10, 0, 0));
    const store = await openBlobBundle({
      containerUrl: `${proxy.url}/worm`,
      caseId: 'c',
      runId: 'r',
      connectionString: proxy.connectionString,
      legalHold: true,
      retentionDays: 30,
      clock,
    });
    const sample = await writeSampleBundle(store, { runId: 'r', caseId: 'c' });
    const p = sample.manifest.protection;
    expect(p.versionLevelImmutability).toBe(true);
    expect(p.legalHold).toEqual(expect.objectContaining({ requested: true, applied: true }));
    expect(p.retentionPolicy).toEqual(expect.objectContaining({ requested: true, applied: true, expiresOn: '2026-12-22T10:00:00.000Z' }));
    for (const a of sample.manifest.artifacts) expect(proxy.held.has(`c/r/${a.path}`)).toBe(true);
    // The manifest and its hash were protected when sealed.
    expect(proxy.held.has('c/r/manifest.json')).toBe(true);
    expect(proxy.held.has('c/r/manifest.json.sha256')).toBe(true);
    expect(proxy.policies.get('c/r/manifest.json')).toBe('Tue, 22 Dec 2026 10:00:00 GMT');
    expect(p.notes.join('\n')).toMatch(/version-level immutability \(WORM\) support enabled/);
    expect((await verifyBundle(store)).ok).toBe(true);
  } finally {
    await proxy.close();
  }
});

test('where the service refuses every protection call, the store stops asking after a few and reports NOT applied with the reason', async () => {
  const proxy = await startProxy(azurite, 'refuse');
  try {
    await container('refuse');
    const store = await openBlobBundle({
      containerUrl: `${proxy.url}/refuse`,
      caseId: 'c',
      runId: 'r',
      connectionString: proxy.connectionString,
      legalHold: true,
      retentionDays: 7,
    });
    const sample = await writeSampleBundle(store, { runId: 'r', caseId: 'c' });
    const p = sample.manifest.protection;
    expect(p.legalHold?.applied).toBe(false);
    expect(p.legalHold?.detail).toMatch(/setLegalHold answered 409 ImmutableStorageNotEnabledSimulated/);
    expect(p.legalHold?.detail).toMatch(/stopped asking/);
    expect(p.retentionPolicy?.applied).toBe(false);
    const attempts = proxy.calls.filter((c) => c === 'PUT legalhold').length;
    expect(attempts).toBe(3);
    expect(p.notes.join('\n')).toMatch(/Legal hold was requested but is NOT in place/);
  } finally {
    await proxy.close();
  }
});

test('an identity without tags/write: the write succeeds without index tags (metadata keeps the facts) and protection() says so', async () => {
  const proxy = await startProxy(azurite, 'no-tags');
  try {
    await container('notags');
    const store = await openBlobBundle({ containerUrl: `${proxy.url}/notags`, caseId: 'c', runId: 'r', connectionString: proxy.connectionString });
    const first = await store.writeArtifact('a.json', '{}', { contentType: 'application/json', metadata: { source: 'events' } });
    const second = await store.writeArtifact('b.json', '[]', { contentType: 'application/json' });
    expect(first.alreadyExisted).toBeUndefined();
    expect(second.alreadyExisted).toBeUndefined();
    // One refused write with tags (small artifacts are one Put Blob), then tags are dropped for the run.
    expect(proxy.calls.filter((c) => c === 'PUT ')).toHaveLength(3);
    expect((await store.stat('a.json'))?.recordedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.protection()).notes.join('\n')).toMatch(/Blob index tags were not set: the service refused them \(403 AuthorizationPermissionMismatch/);
    // With tags explicitly required, the refusal is an error.
    const strict = await openBlobBundle({ containerUrl: `${proxy.url}/notags`, caseId: 'c', runId: 'r2', connectionString: proxy.connectionString, indexTags: true });
    await expect(strict.writeArtifact('a.json', '{}', { contentType: 'application/json' })).rejects.toThrow(/403 AuthorizationPermissionMismatch.*Storage Blob Data Contributor/);
  } finally {
    await proxy.close();
  }
});
