/**
 * streamContainerLog's wire behaviour against a minimal loopback HTTP server: the request it
 * sends, a body cut off mid-stream (lines so far kept, the rest named missing), an error
 * Status mapped to its status and reason, a line without a final newline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApi, KubeApiError } from '../../shared/cluster/kubeApi.js';
import { LogStreamInterruptedError, streamContainerLog } from '../../shared/cluster/podLogStream.js';

let server: Server;
let api: KubeApi;
let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
const requests: { url: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'log-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  api = new KubeApi(kc);
});
afterAll(async () => {
  await api.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const request = { namespace: 'ns', pod: 'p', container: 'c', previous: false };

test('the request: log path, container, timestamps, previous only when asked, sinceSeconds, the token; a last line without newline', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('2026-01-01T00:00:00Z a\n2026-01-01T00:00:01Z b');
  };
  const lines: string[] = [];
  const r = await streamContainerLog(api, { ...request, sinceSeconds: 3600 }, { onLines: (l) => void lines.push(...l) });
  expect(lines).toEqual(['2026-01-01T00:00:00Z a', '2026-01-01T00:00:01Z b']);
  expect(r).toEqual({ lines: 2, bytes: 45 });
  let q = new URL(requests.at(-1)!.url, 'http://x');
  expect(q.pathname).toBe('/api/v1/namespaces/ns/pods/p/log');
  expect(Object.fromEntries(q.searchParams)).toEqual({ container: 'c', timestamps: 'true', sinceSeconds: '3600' });
  expect(requests.at(-1)!.authorization).toBe('Bearer log-token');

  await streamContainerLog(api, { ...request, previous: true }, { onLines: () => undefined });
  q = new URL(requests.at(-1)!.url, 'http://x');
  expect(Object.fromEntries(q.searchParams)).toEqual({ container: 'c', timestamps: 'true', previous: 'true' });
});

test('a body cut off mid-stream: the complete lines are delivered, then LogStreamInterruptedError says how many', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
    res.write('line 1\nline 2\nline 3\npartial li');
    setTimeout(() => res.socket?.destroy(), 20);
  };
  const lines: string[] = [];
  const error = await streamContainerLog(api, request, { onLines: (l) => void lines.push(...l), retry: { maxAttempts: 1 } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(LogStreamInterruptedError);
  expect((error as LogStreamInterruptedError).lines).toBe(3);
  expect(lines).toEqual(['line 1', 'line 2', 'line 3']);
});

test('an error Status becomes a KubeApiError with status, reason and the Status message', async () => {
  handler = (_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: 'pods "p" is forbidden: cannot get resource "pods/log"' }));
  };
  const error = await streamContainerLog(api, request, { onLines: () => undefined, retry: { maxAttempts: 1 } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KubeApiError);
  expect(error).toMatchObject({ status: 403, reason: 'Forbidden', path: '/api/v1/namespaces/ns/pods/p/log' });
  expect((error as Error).message).toContain('cannot get resource "pods/log"');
});
