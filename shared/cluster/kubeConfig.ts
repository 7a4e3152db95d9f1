import { existsSync } from 'node:fs';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import type { ClusterIdentity } from '../evidence/types.js';
import { AksEvidenceError } from '../util/errors.js';

/**
 * Building a KubeConfig. Nothing here reads the environment: the caller (CLI, Function)
 * resolves --kubeconfig / KUBECONFIG / ~/.kube/config into paths and passes them in.
 * Error messages name the fix and never quote kubeconfig content (it holds credentials).
 */

export class KubeConfigError extends AksEvidenceError {
  override name = 'KubeConfigError';
  constructor(message: string) {
    super('ERR_KUBECONFIG', message);
  }
}

export interface LoadKubeConfigOptions {
  /**
   * Kubeconfig file(s). Several files merge like kubectl's KUBECONFIG: the first file that
   * defines a cluster, user or context name wins, and the first current-context wins.
   */
  kubeconfigPath?: string | readonly string[];
  /** A kubeconfig document (YAML or JSON) instead of files. */
  kubeconfigYaml?: string;
  /** Context to use instead of the current-context. */
  context?: string;
}

/** Load a kubeconfig from file(s) or a YAML string and select a context. */
export function loadKubeConfig(options: LoadKubeConfigOptions): KubeConfig {
  const loaded: { kc: KubeConfig; origin: string }[] = [];
  if (options.kubeconfigYaml !== undefined) {
    loaded.push({ kc: parseKubeConfig((kc) => kc.loadFromString(options.kubeconfigYaml!), 'the kubeconfig text'), origin: 'text' });
  } else {
    const paths = typeof options.kubeconfigPath === 'string' ? [options.kubeconfigPath] : [...(options.kubeconfigPath ?? [])];
    const files = paths.filter((p) => p.trim() !== '');
    if (files.length === 0) {
      throw new KubeConfigError('no kubeconfig given: pass --kubeconfig <file>, set KUBECONFIG, or create ~/.kube/config');
    }
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0) {
      throw new KubeConfigError(
        `kubeconfig ${files.length === 1 ? 'file' : 'files'} ${files.join(', ')} not found: pass --kubeconfig <file> ` +
          '(for AKS: az aks get-credentials -g <group> -n <cluster> writes ~/.kube/config)',
      );
    }
    // kubectl ignores missing entries of a KUBECONFIG list as long as one exists.
    for (const file of present) {
      loaded.push({ kc: parseKubeConfig((kc) => kc.loadFromFile(file), `kubeconfig ${file}`), origin: file });
    }
  }
  const kc = mergeFirstWins(loaded.map((l) => l.kc));
  const contextNames = kc.getContexts().map((c) => c.name);
  if (contextNames.length === 0) {
    throw new KubeConfigError(`the kubeconfig (${loaded.map((l) => l.origin).join(', ')}) defines no context: add one or use another --kubeconfig`);
  }
  if (options.context !== undefined) {
    if (!contextNames.includes(options.context)) {
      throw new KubeConfigError(`context "${options.context}" is not in the kubeconfig; use --context, available: ${contextNames.join(', ')}`);
    }
    kc.setCurrentContext(options.context);
  } else if (!kc.getCurrentContext() || !contextNames.includes(kc.getCurrentContext())) {
    const current = kc.getCurrentContext();
    throw new KubeConfigError(
      `${current ? `current-context "${current}" is not defined in the kubeconfig` : 'the kubeconfig has no current-context'}; ` +
        `use --context, available: ${contextNames.join(', ')}`,
    );
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context || !kc.getCluster(context.cluster)) {
    throw new KubeConfigError(`context "${kc.getCurrentContext()}" names cluster "${context?.cluster ?? ''}", which the kubeconfig does not define`);
  }
  if (!kc.getUser(context.user)) {
    throw new KubeConfigError(`context "${kc.getCurrentContext()}" names user "${context.user}", which the kubeconfig does not define`);
  }
  return withCleanServerUrls(kc);
}

/** A server URL without userinfo, query or fragment, and the userinfo it carried; undefined when it carried none. */
function cleanServerUrl(server: string): { server: string; username?: string; password?: string } | undefined {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return undefined;
  }
  if (!u.username && !u.password && !u.search && !u.hash) return undefined;
  const clean = `${u.origin}${u.pathname === '/' ? '' : u.pathname}`;
  return u.username || u.password ? { server: clean, username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : { server: clean };
}

function hasCredentials(user: User): boolean {
  return Boolean(user.token || user.certData || user.certFile || user.keyData || user.keyFile || user.exec || user.authProvider || user.username);
}

/**
 * Credentials never ride in a server URL past loading: userinfo and query strings are removed
 * from every cluster's server before any request is built (fetch refuses a URL with userinfo
 * and quotes it whole in its error; a query string is no part of an API server's address, and
 * a `sig=` in one is a credential). Userinfo becomes basic auth for users of that cluster that
 * have no credentials of their own, as kubectl uses it; otherwise it is dropped.
 */
export function withCleanServerUrls(kc: KubeConfig): KubeConfig {
  const basic = new Map<string, { username: string; password: string }>();
  let changed = false;
  const clusters = kc.getClusters().map((c) => {
    const clean = cleanServerUrl(c.server);
    if (!clean) return c;
    changed = true;
    if (clean.username !== undefined) basic.set(c.name, { username: clean.username, password: clean.password ?? '' });
    return { ...c, server: clean.server };
  });
  if (!changed) return kc;
  const users = kc.getUsers().map((u) => {
    if (hasCredentials(u)) return u;
    const fromUrl = kc
      .getContexts()
      .filter((c) => c.user === u.name)
      .map((c) => basic.get(c.cluster))
      .find((b) => b !== undefined);
    return fromUrl ? { ...u, ...fromUrl } : u;
  });
  const out = new KubeConfig();
  out.loadFromOptions({ clusters, users, contexts: kc.getContexts(), currentContext: kc.getCurrentContext() });
  return out;
}

function parseKubeConfig(load: (kc: KubeConfig) => void, what: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    load(kc);
  } catch (error) {
    // The YAML parser's message quotes the offending text, which may be a token: keep only the line.
    // Other failures (file system, client-node's "clusters[0].name is missing") quote no content.
    const isYaml = error instanceof Error && /yaml/i.test(error.name);
    const line = (error as { mark?: { line?: number } } | null)?.mark?.line;
    const detail = isYaml
      ? `is not valid YAML${typeof line === 'number' ? ` (line ${line + 1})` : ''}`
      : `could not be read: ${error instanceof Error ? error.message : String(error)}`;
    throw new KubeConfigError(`${what} ${detail}; check it or pass another --kubeconfig`);
  }
  return kc;
}

function mergeFirstWins(configs: KubeConfig[]): KubeConfig {
  if (configs.length === 1) return configs[0]!;
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext: string | undefined;
  for (const kc of configs) {
    for (const c of kc.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of kc.getUsers()) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of kc.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    currentContext ??= kc.getCurrentContext() || undefined;
  }
  const merged = new KubeConfig();
  merged.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
  return merged;
}

export interface TokenKubeConfigOptions {
  /** API server URL, https://... */
  server: string;
  /** certificate-authority-data: base64 of the CA PEM, as in a kubeconfig. */
  caData: string;
  /** Bearer token (Entra access token for the AKS server app, or a static token). Kept in memory only. */
  token: string;
  /** Cluster name, used for the context (e.g. the AKS cluster name). */
  name: string;
  /** TLS server name when it differs from the URL host. */
  tlsServerName?: string;
}

/** A KubeConfig for a bearer token, built in memory (the Function path: no file, no kubelogin). */
export function kubeConfigFromToken(options: TokenKubeConfigOptions): KubeConfig {
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new KubeConfigError(`server "${options.server}" is not a URL: pass the API server as https://host[:port]`);
  }
  if (url.protocol !== 'https:') {
    throw new KubeConfigError(`server ${url.host} must use https (the bearer token would travel in clear)`);
  }
  if (!options.token) throw new KubeConfigError('no token given: obtain an Entra token for the AKS server app or use a local-account kubeconfig');
  if (!options.caData) throw new KubeConfigError('no CA data given: take certificate-authority-data from the cluster credentials');
  const kc = new KubeConfig();
  const cluster: Cluster = {
    name: options.name,
    server: options.server,
    caData: options.caData,
    skipTLSVerify: false,
    ...(options.tlsServerName ? { tlsServerName: options.tlsServerName } : {}),
  };
  kc.loadFromClusterAndUser(cluster, { name: `${options.name}-token`, token: options.token });
  return kc;
}

/** Server and context name of the current context: safe to print and to record (no credentials). */
export function describeCluster(kc: KubeConfig): ClusterIdentity {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster: select a context with --context');
  let server = cluster.server;
  try {
    const u = new URL(server);
    if (u.username || u.password || u.search) {
      u.username = '';
      u.password = '';
      u.search = '';
      server = u.toString().replace(/\/$/, '');
    }
  } catch {
    // Not a URL: printed as is (it carries no credentials of its own).
  }
  const context = kc.getCurrentContext();
  return { server, name: context && context !== 'loaded-context' ? context : cluster.name };
}
