import type { Cluster, KubeConfigLike, User } from './kubeConfig.js';

/**
 * Legacy `auth-provider` users (oidc with refresh tokens, the removed azure and gcp providers,
 * tokenFile) are authenticated by @kubernetes/client-node's own providers, loaded only when a
 * kubeconfig has such a user: importing client-node costs ~0.45 s of CPU and ~90 MB, which
 * every other kubeconfig (tokens, client certificates, exec plugins, Entra) no longer pays.
 * One client-node KubeConfig per user object, so a provider's refreshed token is kept.
 */

interface ClientNodeAuth {
  applyToHTTPSOptions(opts: Record<string, unknown>): Promise<void>;
}

export interface ProviderCredential {
  /** The Authorization header value the provider produced. */
  authorization?: string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

const bridges = new WeakMap<object, Promise<ClientNodeAuth>>();

function isClientNodeConfig(kc: KubeConfigLike): kc is KubeConfigLike & ClientNodeAuth {
  return typeof (kc as Partial<ClientNodeAuth>).applyToHTTPSOptions === 'function';
}

async function bridgeFor(kc: KubeConfigLike, cluster: Cluster, user: User): Promise<ClientNodeAuth> {
  if (isClientNodeConfig(kc)) return kc;
  let bridge = bridges.get(user);
  if (!bridge) {
    bridge = import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const cn = new KubeConfig();
      cn.loadFromOptions({
        clusters: [
          {
            name: cluster.name,
            server: cluster.server,
            skipTLSVerify: cluster.skipTLSVerify,
            ...(cluster.caData ? { caData: cluster.caData } : {}),
            ...(cluster.caFile ? { caFile: cluster.caFile } : {}),
          },
        ],
        users: [{ name: user.name, authProvider: user.authProvider }],
        contexts: [{ name: 'auth-provider', cluster: cluster.name, user: user.name }],
        currentContext: 'auth-provider',
      });
      return cn;
    });
    bridges.set(user, bridge);
  }
  return bridge;
}

/** What the user's auth-provider adds to a request (client-node's providers, loaded on first use). */
export async function authProviderCredential(kc: KubeConfigLike, cluster: Cluster, user: User): Promise<ProviderCredential> {
  const bridge = await bridgeFor(kc, cluster, user);
  const opts: Record<string, unknown> = {};
  await bridge.applyToHTTPSOptions(opts);
  const headers = (opts.headers ?? {}) as Record<string, unknown>;
  const credential: ProviderCredential = {};
  if (typeof headers.Authorization === 'string') credential.authorization = headers.Authorization;
  if (opts.cert !== undefined) credential.cert = opts.cert as Buffer | string;
  if (opts.key !== undefined) credential.key = opts.key as Buffer | string;
  return credential;
}
