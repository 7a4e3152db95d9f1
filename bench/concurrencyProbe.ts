/**
 * What the API server sees: an HTTPS relay in front of the simulated cluster that counts the
 * requests in flight through it — a request from its arrival until the relay has passed on the
 * end of its response, or its connection closed, an exec from its upgrade until both sockets closed — and keeps the
 * peak. The collector is pointed at the relay (its own certificate, its own CA in the
 * kubeconfig); the relay forwards to the simulated cluster unchanged. It wraps the simulator
 * from the outside, so the simulator itself needs no counter.
 */
import { createServer, request as httpsRequest, Agent, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import { load as loadYaml } from 'js-yaml';
import { generateTestCa, issueServerCert } from '../shared/simulator/tls.js';

export interface ConcurrencyProbe {
  /** https://127.0.0.1:<port> */
  server: string;
  caPem: string;
  /** The kubeconfig for the relay: the cluster's, with its clusters' server and CA replaced (JSON, which kubeconfig readers take). */
  kubeconfigFor(kubeconfigYaml: string): string;
  /** The peak, what was in flight at that moment by kind (list, log, exec, other), and requests seen. */
  stats(): { peak: number; atPeak: Record<string, number>; inFlight: number; requests: number };
  reset(): void;
  stop(): Promise<void>;
}

export async function startConcurrencyProbe(target: { server: string; caPem: string }): Promise<ConcurrencyProbe> {
  const cert = await issueServerCert(await generateTestCa('aks-evidence bench probe CA'));
  const upstream = new URL(target.server);
  const agent = new Agent({ keepAlive: true, ca: target.caPem });
  let inFlight = 0;
  let peak = 0;
  let atPeak: Record<string, number> = {};
  let requests = 0;
  const active = new Map<number, string>();
  let nextId = 0;
  const kindOf = (method: string | undefined, url: string | undefined): string => {
    const path = (url ?? '').split('?')[0] ?? '';
    if (path.endsWith('/exec')) return 'exec';
    if (path.endsWith('/log')) return 'log';
    return method === 'GET' ? 'list' : 'other';
  };
  const begin = (kind: string): (() => void) => {
    const id = nextId++;
    active.set(id, kind);
    inFlight++;
    requests++;
    if (inFlight > peak) {
      peak = inFlight;
      atPeak = {};
      for (const k of active.values()) atPeak[k] = (atPeak[k] ?? 0) + 1;
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      active.delete(id);
      inFlight--;
    };
  };
  const sockets = new Set<Duplex>();

  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req: IncomingMessage, res: ServerResponse) => {
    const end = begin(kindOf(req.method, req.url));
    res.once('finish', end);
    res.once('close', end);
    const forward = httpsRequest(
      { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        // Ended once the relay has passed on the response's end (pipe's own 'end' listener, first,
        // calls res.end()): the client cannot have read the end before this. 'finish' comes only
        // after the OS took the last bytes, by when the client may have read them and sent its
        // next request: counting until then saw 33 in flight under a budget of 32 the client kept.
        answer.once('end', end);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const end = begin(kindOf(req.method, req.url));
    sockets.add(client);
    const tunnel = connect(
      { host: upstream.hostname, port: Number(upstream.port), ca: target.caPem, servername: upstream.hostname === '127.0.0.1' ? undefined : upstream.hostname },
      () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          const name = req.rawHeaders[i]!;
          lines.push(`${name}: ${name.toLowerCase() === 'host' ? upstream.host : req.rawHeaders[i + 1]}`);
        }
        tunnel.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) tunnel.write(head);
        tunnel.pipe(client).pipe(tunnel);
      },
    );
    sockets.add(tunnel);
    const close = (): void => {
      client.destroy();
      tunnel.destroy();
      sockets.delete(client);
      sockets.delete(tunnel);
      end();
    };
    client.on('close', close).on('error', close);
    tunnel.on('close', close).on('error', close);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server: url,
    caPem: cert.caPem,
    kubeconfigFor: (kubeconfigYaml) => {
      const doc = loadYaml(kubeconfigYaml) as { clusters: { cluster: Record<string, unknown> }[] };
      for (const c of doc.clusters) c.cluster = { ...c.cluster, server: url, 'certificate-authority-data': Buffer.from(cert.caPem).toString('base64') };
      return JSON.stringify(doc);
    },
    stats: () => ({ peak, atPeak, inFlight, requests }),
    reset: () => {
      peak = inFlight;
      requests = 0;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
