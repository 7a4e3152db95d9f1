/**
 * execInPod's edges that the fixture API server does not produce on demand, against a
 * minimal loopback WebSocket server speaking the channel protocol (plain ws:// with a
 * kubeconfig that allows it): a socket closed without a status, an unreadable status, v5
 * CLOSE frames, a throwing stdout consumer, an abort while the command runs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { execInPod, EXEC_PROTOCOLS } from '../../shared/cluster/podExec.js';

type Script = (ws: WebSocket, command: string[]) => void;
const frame = (channel: number, payload: string | Buffer): Buffer => Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
const SUCCESS = JSON.stringify({ metadata: {}, status: 'Success' });

let server: Server;
let wss: WebSocketServer;
let kc: KubeConfig;
const scripts = new Map<string, Script>();
const seen: { url: string; protocol: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer();
  wss = new WebSocketServer({ server, handleProtocols: (offered) => (offered.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ url: req.url ?? '', protocol: ws.protocol, authorization: req.headers.authorization });
    const command = url.searchParams.getAll('command');
    scripts.get(command.join(' '))?.(ws, command);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const target = { namespace: 'ns', pod: 'p-1', container: 'c' };

test('the request: exec path, container, command parts, stdout and stderr, the token, v5 then v4 offered', async () => {
  scripts.set('echo hi there', (ws) => {
    ws.send(frame(1, 'hi there\n'));
    ws.send(frame(3, SUCCESS));
  });
  const out: Buffer[] = [];
  const r = await execInPod(kc, { ...target, command: ['echo', 'hi there'] }, { onStdout: (c) => out.push(c) });
  expect(r).toMatchObject({ end: 'success', exitCode: 0, stdoutBytes: 9, protocol: 'v5.channel.k8s.io' });
  expect(Buffer.concat(out).toString()).toBe('hi there\n');
  const last = seen.at(-1)!;
  expect(last.url).toMatch(/^\/api\/v1\/namespaces\/ns\/pods\/p-1\/exec\?/);
  const q = new URL(last.url, 'http://x').searchParams;
  expect(q.get('container')).toBe('c');
  expect(q.getAll('command')).toEqual(['echo', 'hi there']);
  expect(q.get('stdout')).toBe('true');
  expect(q.get('stderr')).toBe('true');
  expect(q.get('stdin')).toBe('false');
  expect(last.authorization).toBe('Bearer test-token');
  expect(EXEC_PROTOCOLS).toEqual(['v5.channel.k8s.io', 'v4.channel.k8s.io']);
});

test('a socket that closes without a status ends as closed-without-status, keeping what arrived', async () => {
  scripts.set('killed', (ws) => {
    ws.send(frame(1, 'partial'));
    ws.send(frame(2, 'oops'));
    setTimeout(() => ws.close(), 20);
  });
  const r = await execInPod(kc, { ...target, command: ['killed'] }, { onStdout: () => undefined });
  expect(r).toMatchObject({ end: 'closed-without-status', stdoutBytes: 7, stderr: 'oops' });
  expect(r.exitCode).toBeUndefined();
});

test('v5 CLOSE frames and unknown channels are ignored; an unreadable status is reported, not thrown', async () => {
  scripts.set('close-frames', (ws) => {
    ws.send(frame(1, 'a'));
    ws.send(Buffer.from([255, 1]));
    ws.send(Buffer.from([255, 2]));
    ws.send(frame(9, 'resize?'));
    ws.send(frame(3, SUCCESS));
  });
  const ok = await execInPod(kc, { ...target, command: ['close-frames'] }, { onStdout: () => undefined });
  expect(ok).toMatchObject({ end: 'success', stdoutBytes: 1 });

  scripts.set('bad-status', (ws) => ws.send(frame(3, '{not json')));
  const bad = await execInPod(kc, { ...target, command: ['bad-status'] }, { onStdout: () => undefined });
  expect(bad.end).toBe('closed-without-status');
  expect(bad.message).toMatch(/^unreadable status from the server/);
});

test('a stdout consumer that throws ends the exec with its error', async () => {
  scripts.set('chatty', (ws) => {
    ws.send(frame(1, 'one'));
    ws.send(frame(1, 'two'));
    setTimeout(() => ws.send(frame(3, SUCCESS)), 50);
  });
  await expect(
    execInPod(
      kc,
      { ...target, command: ['chatty'] },
      {
        onStdout: () => {
          throw new Error('parser gave up');
        },
      },
    ),
  ).rejects.toThrow('parser gave up');
});

test('an abort while the command runs rejects with the reason; a hung command times out', async () => {
  scripts.set('hang', () => undefined);
  const controller = new AbortController();
  const pending = execInPod(kc, { ...target, command: ['hang'] }, { onStdout: () => undefined, abortSignal: controller.signal });
  setTimeout(() => controller.abort(new Error('run cancelled')), 50);
  await expect(pending).rejects.toThrow('run cancelled');
  await expect(execInPod(kc, { ...target, command: ['hang'] }, { onStdout: () => undefined, timeoutInMs: 80 })).rejects.toMatchObject({
    name: 'PodExecTimeoutError',
    timeoutInMs: 80,
  });
});

test('a refused upgrade is a PodExecUpgradeError with the HTTP status', async () => {
  const refusing = createServer((_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 }));
  });
  refusing.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  try {
    const other = new KubeConfig();
    other.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await expect(execInPod(other, { ...target, command: ['id'] }, { onStdout: () => undefined })).rejects.toMatchObject({ name: 'PodExecUpgradeError', status: 403 });
  } finally {
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
  }
});
