import { createHash } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * One TLS setup for every exec WebSocket of a KubeConfig.
 *
 * A WebSocket upgrade cannot reuse a connection, so each exec pays a TLS handshake; on top
 * of that Node builds a fresh SecureContext (parsing the CA bundle, the client certificate
 * and key) for every connection unless one is handed in. Thousands of history execs spent
 * more CPU there than on the handshakes themselves. This agent carries one SecureContext
 * and keeps Node's TLS session cache, so later handshakes can resume.
 *
 * Only a plain https.Agent, as client-node builds for a direct connection, is replaced:
 * proxy agents (proxy-url in the kubeconfig) and plain-HTTP clusters keep theirs. The
 * TLS material is compared on every call (by a digest kept in memory only), so a client
 * certificate rotated by an exec credential plugin gets a new agent.
 */

const TLS_MATERIAL = ['ca', 'cert', 'key', 'pfx', 'passphrase'] as const;
/** Connection options that must reach tls.connect unchanged. */
const CONNECT_OPTIONS = ['servername', 'rejectUnauthorized', 'ciphers', 'ecdhCurve', 'secureProtocol', 'secureOptions', 'minVersion', 'maxVersion'] as const;

interface Pooled {
  digest: string;
  agent: https.Agent;
}

const pooled = new WeakMap<KubeConfig, Pooled>();

function digestOf(opts: Record<string, unknown>): string {
  const hash = createHash('sha256');
  for (const name of [...TLS_MATERIAL, ...CONNECT_OPTIONS]) {
    const value = opts[name];
    hash.update(`${name}:`);
    if (value === undefined) hash.update('-');
    else if (Array.isArray(value)) for (const v of value) hash.update(typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v)).update('|');
    else hash.update(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
    hash.update('\n');
  }
  return hash.digest('hex');
}

/**
 * The WebSocket options client-node prepared (`applyToHTTPSOptions`), with its per-call TLS
 * setup replaced by the KubeConfig's pooled agent when that is safe.
 */
export function pooledUpgradeOptions<T extends object>(kc: KubeConfig, opts: T): T {
  const o = opts as Record<string, unknown>;
  const agent = o.agent;
  if (!(agent instanceof https.Agent) || Object.getPrototypeOf(agent) !== https.Agent.prototype) return opts;
  const digest = digestOf(o);
  let entry = pooled.get(kc);
  if (!entry || entry.digest !== digest) {
    const material: tls.SecureContextOptions = {};
    for (const name of TLS_MATERIAL) if (o[name] !== undefined) (material as Record<string, unknown>)[name] = o[name];
    const agentOptions: https.AgentOptions = { keepAlive: false, secureContext: tls.createSecureContext(material) };
    for (const name of CONNECT_OPTIONS) if (o[name] !== undefined) (agentOptions as Record<string, unknown>)[name] = o[name];
    // The old agent is dropped, not destroyed: its sockets belong to running execs.
    entry = { digest, agent: new https.Agent(agentOptions) };
    pooled.set(kc, entry);
  }
  return { ...opts, agent: entry.agent };
}
