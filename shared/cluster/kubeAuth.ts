import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AksEvidenceError } from '../util/errors.js';
import { authProviderCredential } from './authProviderBridge.js';
import { ExecCredentialPlugin, type ExecCredentialOptions } from './execCredential.js';
import type { Cluster, ExecPluginConfig, KubeAuthenticator, KubeConfigLike, User } from './kubeConfig.js';

/**
 * How requests to the current context's cluster authenticate, as kubectl and client-node do
 * it: the CA (certificate-authority[-data]) and tls-server-name, insecure-skip-tls-verify;
 * the user's client certificate and key; a bearer token, a token-file (re-read every minute:
 * projected tokens rotate), basic auth, impersonation headers; an exec credential plugin
 * (execCredential.ts); a host's own authenticator (the Entra token of a Function's identity);
 * legacy auth-providers through client-node (authProviderBridge.ts, loaded only for them).
 *
 * Files are read once and the result kept; only the parts that can change (exec, token-file,
 * authenticators, auth-providers) are looked at again per request. `tlsKey` identifies the TLS
 * material (a digest, kept in memory only), so transports can keep one connection pool per
 * material and build a new one when an exec plugin rotates the client certificate.
 */

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer | string;
  key?: Buffer | string;
  servername?: string;
  /** false only for insecure-skip-tls-verify. */
  rejectUnauthorized?: boolean;
}

export interface RequestAuth {
  headers: Record<string, string | string[]>;
  tls: TlsMaterial;
  /** Identifies `tls` (a digest): equal keys, interchangeable connections. */
  tlsKey: string;
}

export interface KubeAuthOptions {
  /** Exec plugins: environment, stderr, time limit. */
  exec?: ExecCredentialOptions;
  now?: () => number;
}

/** How often a token-file is read again, in ms (client-go's period). */
const TOKEN_FILE_REFRESH_MS = 60_000;

const auths = new WeakMap<KubeConfigLike, KubeAuth>();

export class KubeAuth {
  private static defaults: KubeAuthOptions = {};
  private basis: { cluster: Cluster; user: User | null } | undefined;
  private fixed: { headers: Record<string, string | string[]>; tls: TlsMaterial; tlsKey: string; dynamic: boolean } | undefined;
  private plugin: ExecCredentialPlugin | undefined;
  private tokenFile: { token: string; readAt: number } | undefined;
  private lastCertDigest: { cert: Buffer | string | undefined; key: Buffer | string | undefined; tlsKey: string } | undefined;

  constructor(
    readonly kubeConfig: KubeConfigLike,
    private readonly options: KubeAuthOptions = KubeAuth.defaults,
  ) {}

  /** The KubeAuth of a kubeconfig object (one per object, so caches are shared). */
  static for(kubeConfig: KubeConfigLike): KubeAuth {
    let auth = auths.get(kubeConfig);
    if (!auth) {
      auth = new KubeAuth(kubeConfig);
      auths.set(kubeConfig, auth);
    }
    return auth;
  }

  /** Process-wide defaults for KubeAuth.for (the CLI passes its stderr for exec plugins). */
  static setDefaults(options: KubeAuthOptions): void {
    KubeAuth.defaults = options;
  }

  /** The current cluster, or a clear error. */
  cluster(): Cluster {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) {
      throw new AksEvidenceError('ERR_KUBECONFIG', 'the kubeconfig has no current cluster: select a context with --context or set current-context');
    }
    return cluster;
  }

  /** The headers and TLS material of the next request. */
  async resolve(): Promise<RequestAuth> {
    const fixed = this.fixedParts();
    if (!fixed.dynamic) return fixed;
    const cluster = this.cluster();
    const user = this.kubeConfig.getCurrentUser();
    const headers = { ...fixed.headers };
    let cert = fixed.tls.cert;
    let key = fixed.tls.key;
    const authenticator = user ? this.authenticatorFor(user) : undefined;
    if (authenticator && user) {
      const opts: { headers?: Record<string, unknown> } = { headers: {} };
      await authenticator.applyAuthentication(user, opts);
      const value = opts.headers?.Authorization;
      if (typeof value === 'string') headers.Authorization = value;
    } else if (user && this.execConfig(user)) {
      const status = await this.execPlugin(cluster, user).credential();
      if (status.token) headers.Authorization = `Bearer ${status.token}`;
      if (status.clientCertificateData && status.clientKeyData) {
        cert = status.clientCertificateData;
        key = status.clientKeyData;
      }
    } else if (user?.authProvider) {
      const provided = await authProviderCredential(this.kubeConfig, cluster, user);
      if (provided.authorization) headers.Authorization = provided.authorization;
      if (provided.cert !== undefined && provided.key !== undefined) {
        cert = provided.cert;
        key = provided.key;
      }
    }
    // A static token wins over what a provider set, as in client-node; a token-file when there is no token.
    if (user?.token) headers.Authorization = `Bearer ${user.token}`;
    else if (user?.tokenFile && headers.Authorization === undefined) headers.Authorization = `Bearer ${this.readTokenFile(user.tokenFile)}`;
    if (cert === fixed.tls.cert && key === fixed.tls.key) return { headers, tls: fixed.tls, tlsKey: fixed.tlsKey };
    const tls = { ...fixed.tls, ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
    let rotated = this.lastCertDigest;
    if (!rotated || rotated.cert !== cert || rotated.key !== key) {
      rotated = { cert, key, tlsKey: digestOf(tls) };
      this.lastCertDigest = rotated;
    }
    return { headers, tls, tlsKey: rotated.tlsKey };
  }

  /** The server refused the credentials (401): credentials that can be renewed are fetched again next time. */
  invalidate(): void {
    this.plugin?.invalidate();
    this.tokenFile = undefined;
  }

  /** True when a 401 may be cured by asking again (an exec plugin or a token-file). */
  get renewable(): boolean {
    const user = this.kubeConfig.getCurrentUser();
    return Boolean(user && !user.token && (this.execConfig(user) || user.tokenFile));
  }

  /** What does not change between requests: CA, files, static token, basic auth, impersonation. */
  private fixedParts(): NonNullable<KubeAuth['fixed']> {
    const cluster = this.cluster();
    const user = this.kubeConfig.getCurrentUser();
    if (this.fixed && this.basis?.cluster === cluster && this.basis.user === user) return this.fixed;
    const tls: TlsMaterial = {};
    const ca = bytesOf(cluster.caFile, cluster.caData, 'certificate-authority');
    if (ca) tls.ca = ca;
    if (cluster.tlsServerName) tls.servername = cluster.tlsServerName;
    if (cluster.skipTLSVerify) tls.rejectUnauthorized = false;
    const headers: Record<string, string | string[]> = {};
    let dynamic = false;
    if (user) {
      const cert = bytesOf(user.certFile, user.certData, 'client-certificate');
      const key = bytesOf(user.keyFile, user.keyData, 'client-key');
      if (cert) tls.cert = cert;
      if (key) tls.key = key;
      if (user.token) headers.Authorization = `Bearer ${user.token}`;
      else if (user.username) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
      if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
      if (user.impersonateUid) headers['Impersonate-Uid'] = user.impersonateUid;
      if (user.impersonateGroups?.length) headers['Impersonate-Group'] = [...user.impersonateGroups];
      for (const [name, values] of Object.entries(user.impersonateExtra ?? {})) headers[`Impersonate-Extra-${encodeURIComponent(name)}`] = [...values];
      dynamic = Boolean(this.authenticatorFor(user) || this.execConfig(user) || user.authProvider || (!user.token && user.tokenFile));
    }
    this.basis = { cluster, user };
    this.plugin = undefined;
    this.fixed = { headers, tls, tlsKey: digestOf(tls), dynamic };
    return this.fixed;
  }

  private authenticatorFor(user: User): KubeAuthenticator | undefined {
    const authenticators = (this.kubeConfig as { authenticators?: readonly KubeAuthenticator[] }).authenticators;
    return authenticators?.find((a) => a.isAuthProvider(user));
  }

  /** users[].user.exec, or the older auth-provider spelling of it. */
  private execConfig(user: User): ExecPluginConfig | undefined {
    if (user.exec && typeof user.exec === 'object') return user.exec as ExecPluginConfig;
    const provider = user.authProvider as { name?: unknown; config?: { exec?: unknown } } | null | undefined;
    if (provider?.config?.exec && typeof provider.config.exec === 'object') return provider.config.exec as ExecPluginConfig;
    return undefined;
  }

  private execPlugin(cluster: Cluster, user: User): ExecCredentialPlugin {
    this.plugin ??= new ExecCredentialPlugin(this.execConfig(user)!, cluster, this.options.exec ?? {});
    return this.plugin;
  }

  private readTokenFile(file: string): string {
    const now = (this.options.now ?? Date.now)();
    if (!this.tokenFile || now - this.tokenFile.readAt > TOKEN_FILE_REFRESH_MS) {
      let token: string;
      try {
        token = readFileSync(file, 'utf8').trim();
      } catch (error) {
        throw new AksEvidenceError('ERR_KUBECONFIG', `the kubeconfig user's token-file ${file} cannot be read: ${(error as Error).message}`, { cause: error });
      }
      this.tokenFile = { token, readAt: now };
    }
    return this.tokenFile.token;
  }
}

/** A file's bytes, else base64 data decoded, else undefined (what kubectl reads for CA, cert, key). */
function bytesOf(file: string | null | undefined, data: string | null | undefined, what: string): Buffer | undefined {
  if (file) {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new AksEvidenceError('ERR_KUBECONFIG', `the kubeconfig's ${what} file ${file} cannot be read: ${(error as Error).message}`, { cause: error });
    }
  }
  return data ? Buffer.from(data, 'base64') : undefined;
}

function digestOf(tls: TlsMaterial): string {
  const hash = createHash('sha256');
  for (const name of ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'] as const) {
    const value = tls[name];
    hash.update(`${name}:`);
    hash.update(value === undefined ? '-' : typeof value === 'boolean' ? String(value) : value);
    hash.update('\n');
  }
  return hash.digest('hex');
}
