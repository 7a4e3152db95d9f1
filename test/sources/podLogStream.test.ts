/**
 * streamContainerLog's wire behaviour against a minimal loopback HTTP server: the request it
 * sends, a body cut off mid-stream (resumed from the last line's time, or named missing), an error
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
  expect(r).toEqual({ lines: 2, bytes: 45, requests: 1, resumes: [] });
  let q = new URL(requests.at(-1)!.url, 'http://x');
  expect(q.pathname).toBe('/api/v1/namespaces/ns/pods/p/log');
  expect(Object.fromEntries(q.searchParams)).toEqual({ container: 'c', timestamps: 'true', sinceSeconds: '3600' });
  expect(requests.at(-1)!.authorization).toBe('Bearer log-token');

  await streamContainerLog(api, { ...request, previous: true }, { onLines: () => undefined });
  q = new URL(requests.at(-1)!.url, 'http://x');
  expect(Object.fromEntries(q.searchParams)).toEqual({ container: 'c', timestamps: 'true', previous: 'true' });
});

test('a body cut off mid-stream whose lines carry no timestamp: the complete lines are delivered, then LogStreamInterruptedError says how many (no resume point)', async () => {
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

/**
 * Resuming. A loopback log server holds one log of time-stamped lines; each request is answered
 * from `sinceTime` (at second precision like the API server, at full precision, or ignored) and
 * may be cut after N bytes or stalled after N lines, by a per-request plan.
 */
describe('resume after a cut or a stall', () => {
  type Plan = { cutAfterBytes?: number; stallAfterLines?: number; stallBeforeHeaders?: boolean } | undefined;
  const seconds = (i: number): string => `2026-03-01T10:00:${String(Math.floor(i / 4)).padStart(2, '0')}.${String((i % 4) * 250_000_000).padStart(9, '0')}Z`;
  /** 120 lines, four per second, every third pair sharing one timestamp (continuations do). */
  const LOG = Array.from({ length: 120 }, (_, i) => `${seconds(i % 3 === 1 ? i - 1 : i)} line ${i} ${'x'.repeat(i % 7)}`);

  function logServer(plans: Plan[], since: 'second' | 'exact' | 'ignore' = 'second', log = LOG): void {
    let n = 0;
    handler = (req, res) => {
      const plan = plans[n++];
      if (plan?.stallBeforeHeaders) return; // never answers
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const sinceTime = q.get('sinceTime');
      let from = 0;
      if (sinceTime && since !== 'ignore') {
        const t = since === 'second' ? sinceTime.slice(0, 19) : sinceTime;
        from = log.findIndex((l) => (since === 'second' ? l.slice(0, 19) >= t : l.slice(0, 30) >= t.padEnd(30, '0')));
        if (from === -1) from = log.length;
      }
      const body = Buffer.from(
        log
          .slice(from)
          .map((l) => `${l}\n`)
          .join(''),
      );
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (plan?.cutAfterBytes !== undefined) {
        res.write(body.subarray(0, plan.cutAfterBytes), () => res.socket?.destroy());
      } else if (plan?.stallAfterLines !== undefined) {
        res.write(
          log
            .slice(from, from + plan.stallAfterLines)
            .map((l) => `${l}\n`)
            .join(''),
        );
      } else res.end(body);
    };
  }

  test('a body cut mid-line resumes from the last complete line (sinceTime, no sinceSeconds); repeated lines dropped by exact match', async () => {
    logServer([{ cutAfterBytes: 1000 }, { cutAfterBytes: 1500 }]);
    const got: string[] = [];
    const r = await streamContainerLog(api, { ...request, sinceSeconds: 600 }, { onLines: (l) => void got.push(...l) });
    expect(got).toEqual(LOG);
    expect(r.lines).toBe(120);
    expect(r.requests).toBe(3);
    expect(r.resumes).toHaveLength(2);
    const [first, second] = r.resumes;
    expect(first).toMatchObject({ cause: 'cut', sinceTime: got[first!.afterLines - 1]!.slice(0, 30) });
    expect(first!.droppedLines).toBeGreaterThan(0);
    expect(second!.afterLines).toBeGreaterThan(first!.afterLines);
    const resumed = Object.fromEntries(new URL(requests.at(-1)!.url, 'http://x').searchParams);
    expect(resumed).toEqual({ container: 'c', timestamps: 'true', sinceTime: second!.sinceTime });
    expect(Object.fromEntries(new URL(requests.at(-3)!.url, 'http://x').searchParams)).toMatchObject({ sinceSeconds: '600' });
  });

  test('a cut between two lines that share a timestamp keeps the second one', async () => {
    // Lines 0 and 1 share a timestamp; cut right after line 0.
    logServer([{ cutAfterBytes: Buffer.byteLength(`${LOG[0]}\n`) + 5 }]);
    const got: string[] = [];
    const r = await streamContainerLog(api, request, { onLines: (l) => void got.push(...l) });
    expect(got).toEqual(LOG);
    expect(r.resumes).toEqual([{ cause: 'cut', afterLines: 1, sinceTime: LOG[0]!.slice(0, 30), droppedLines: 1, detail: expect.any(String) }]);
  });

  test.each([
    ['the fraction kept (sinceTime exact)', 'exact' as const],
    ['sinceTime ignored (the whole log again)', 'ignore' as const],
  ])('no line lost or repeated with %s', async (_name, since) => {
    logServer([{ cutAfterBytes: 2222 }, { cutAfterBytes: 3333 }], since);
    const got: string[] = [];
    const r = await streamContainerLog(api, request, { onLines: (l) => void got.push(...l) });
    expect(got).toEqual(LOG);
    expect(r.resumes).toHaveLength(2);
  });

  test('a stalled body (headers and some lines, then silence) is resumed after the idle time-out', async () => {
    logServer([{ stallAfterLines: 30 }]);
    const got: string[] = [];
    const r = await streamContainerLog(api, request, { onLines: (l) => void got.push(...l), idleTimeoutInMs: 150 });
    expect(got).toEqual(LOG);
    expect(r.resumes).toEqual([
      { cause: 'idle', afterLines: 30, sinceTime: LOG[29]!.slice(0, 30), droppedLines: expect.any(Number), detail: 'no data from the API server for 0.15 s' },
    ]);
  });

  test('a request that gets no headers within the idle time-out is asked again', async () => {
    logServer([{ stallBeforeHeaders: true }]);
    const got: string[] = [];
    const r = await streamContainerLog(api, request, { onLines: (l) => void got.push(...l), idleTimeoutInMs: 150 });
    expect(got).toEqual(LOG);
    expect(r.resumes).toEqual([{ cause: 'idle', afterLines: 0, droppedLines: 0, detail: expect.stringContaining('no data') }]);
  });

  test('time the consumer holds the stream back is not idle time', async () => {
    logServer([]);
    let calls = 0;
    const r = await streamContainerLog(api, request, {
      idleTimeoutInMs: 100,
      onLines: () => (calls++ === 0 ? new Promise<void>((resolve) => setTimeout(resolve, 400)) : undefined),
    });
    expect(r).toMatchObject({ lines: 120, requests: 1, resumes: [] });
  });

  test('resumes that bring nothing new, three in a row: interrupted, every resume named; 0 = never resume', async () => {
    const cut = { cutAfterBytes: 700 };
    logServer([cut, cut, cut, cut, cut], 'ignore');
    const got: string[] = [];
    const error = (await streamContainerLog(api, request, { onLines: (l) => void got.push(...l) }).catch((e: unknown) => e)) as LogStreamInterruptedError;
    expect(error).toBeInstanceOf(LogStreamInterruptedError);
    expect(error.resumes).toHaveLength(3);
    expect(error.lines).toBe(got.length);
    expect(got).toEqual(LOG.slice(0, got.length));
    expect(error.message).toMatch(/3 resume\(s\) in a row brought no new line/);

    logServer([cut]);
    const once = (await streamContainerLog(api, request, { onLines: () => undefined, maxResumesWithoutProgress: 0 }).catch((e: unknown) => e)) as LogStreamInterruptedError;
    expect(once).toBeInstanceOf(LogStreamInterruptedError);
    expect(once.resumes).toEqual([]);
  });

  test("the caller's abort ends the stream with its reason, never taken for a stall", async () => {
    logServer([{ stallAfterLines: 10 }]);
    const controller = new AbortController();
    const got: string[] = [];
    const pending = streamContainerLog(api, request, { idleTimeoutInMs: 5000, abortSignal: controller.signal, onLines: (l) => void got.push(...l) });
    setTimeout(() => controller.abort(new Error('run cancelled')), 100);
    await expect(pending).rejects.toThrow('run cancelled');
    expect(got).toHaveLength(10);
  });

  test("the consumer's own error passes through unchanged, without a resume", async () => {
    logServer([]);
    const mine = new Error('queue stopped');
    await expect(
      streamContainerLog(api, request, {
        onLines: () => {
          throw mine;
        },
      }),
    ).rejects.toBe(mine);
  });
});
