import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { pooledUpgradeOptions } from '../../shared/cluster/upgradeAgent.js';
import { generateTestCa, issueServerCert, type ServerCert } from '../../shared/simulator/tls.js';

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443' }],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('pooledUpgradeOptions: one TLS setup for every exec WebSocket', () => {
  let tls: ServerCert;
  beforeAll(async () => {
    tls = await issueServerCert(await generateTestCa());
  });

  test('a plain https.Agent is replaced by one pooled agent that carries a SecureContext; other options are kept', () => {
    const kc = kubeConfig();
    const opts = { agent: new https.Agent(), ca: tls.caPem, headers: { Authorization: 'Bearer x' }, servername: 'kubernetes' };
    const first = pooledUpgradeOptions(kc, opts);
    expect(first.agent).not.toBe(opts.agent);
    expect(first.agent).toBeInstanceOf(https.Agent);
    const agentOptions = (first.agent as https.Agent).options as https.AgentOptions;
    expect(agentOptions.secureContext).toBeDefined();
    expect(agentOptions.servername).toBe('kubernetes');
    expect(agentOptions.keepAlive).toBe(false);
    expect(first.headers).toBe(opts.headers);
    // The same material again (client-node rebuilds the options for every exec): the same agent.
    const again = pooledUpgradeOptions(kc, { ...opts, agent: new https.Agent() });
    expect(again.agent).toBe(first.agent);
  });

  test('new TLS material (a rotated client certificate) gets a new agent; another KubeConfig has its own', () => {
    const kc = kubeConfig();
    const a = pooledUpgradeOptions(kc, { agent: new https.Agent(), ca: tls.caPem });
    const b = pooledUpgradeOptions(kc, { agent: new https.Agent(), ca: tls.caPem, cert: tls.certPem, key: tls.keyPem });
    expect(b.agent).not.toBe(a.agent);
    const c = pooledUpgradeOptions(kubeConfig(), { agent: new https.Agent(), ca: tls.caPem, cert: tls.certPem, key: tls.keyPem });
    expect(c.agent).not.toBe(b.agent);
  });

  test('proxy agents and plain-HTTP agents are left alone', () => {
    class ProxyAgent extends https.Agent {}
    const kc = kubeConfig();
    const proxied = { agent: new ProxyAgent(), ca: tls.caPem };
    expect(pooledUpgradeOptions(kc, proxied)).toBe(proxied);
    const plain = { agent: new http.Agent() };
    expect(pooledUpgradeOptions(kc, plain)).toBe(plain);
    const none = { ca: tls.caPem };
    expect(pooledUpgradeOptions(kc, none)).toBe(none);
  });
});
