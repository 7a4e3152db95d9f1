import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { load as parseYaml } from 'js-yaml';
import type { ClusterIdentity } from '../evidence/types.js';
import { AksEvidenceError } from '../util/errors.js';

/**
 * The kubeconfig: clusters, users, contexts and the current context, read from kubeconfig
 * files or built in memory. Nothing here reads the environment: the caller (CLI, Function)
 * resolves --kubeconfig / KUBECONFIG / ~/.kube/config into paths and passes them in. Error
 * messages name the fix and never quote kubeconfig content (it holds credentials).
 *
 * Our own model rather than @kubernetes/client-node's KubeConfig: importing client-node loads
 * its generated API models (~0.45 s of CPU and ~90 MB of RSS, docs/performance.md) for a
 * document this file reads in a millisecond. The shapes and accessor names are client-node's,
 * so a client-node KubeConfig (the simulator's, a caller's) is a KubeConfigLike too, and
 * parsing follows client-node's rules (js-yaml, the same required fields); kubeconfig paths
 * resolve against the file's directory, like kubectl. Authentication is in kubeAuth.ts.
 */

export class KubeConfigError extends AksEvidenceError {
  override name = 'KubeConfigError';
  constructor(message: string) {
    super('ERR_KUBECONFIG', message);
  }
}

/** A cluster entry (client-node's field names). */
export interface Cluster {
  readonly name: string;
  readonly server: string;
  /** certificate-authority-data: base64 PEM. */
  readonly caData?: string | null;
  /** certificate-authority: a PEM file (absolute once loaded). */
  readonly caFile?: string | null;
  readonly skipTLSVerify: boolean;
  readonly tlsServerName?: string | null;
  readonly proxyUrl?: string | null;
  /** The cluster's `extensions` entry for exec plugins (client.authentication.k8s.io/exec), passed on when provideClusterInfo is set. */
  readonly execExtension?: unknown;
}

/** An exec credential plugin (users[].user.exec). */
export interface ExecPluginConfig {
  command: string;
  args?: string[] | null;
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo?: boolean;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
}

/** A user entry (client-node's field names, plus what kubectl also reads). */
export interface User {
  readonly name: string;
  readonly token?: string | null;
  /** token-file: re-read while the process runs (projected tokens rotate). */
  readonly tokenFile?: string | null;
  readonly username?: string | null;
  readonly password?: string | null;
  readonly certData?: string | null;
  readonly certFile?: string | null;
  readonly keyData?: string | null;
  readonly keyFile?: string | null;
  /** An exec credential plugin (ExecPluginConfig). */
  readonly exec?: unknown;
  /** Legacy auth-provider entry (oidc, azure, gcp): handled by client-node, loaded only for such users. */
  readonly authProvider?: unknown;
  readonly impersonateUser?: string | null;
  readonly impersonateUid?: string | null;
  readonly impersonateGroups?: readonly string[] | null;
  readonly impersonateExtra?: Readonly<Record<string, readonly string[]>> | null;
}

export interface Context {
  readonly name: string;
  readonly cluster: string;
  readonly user: string;
  readonly namespace?: string;
}

/**
 * Adds credentials to a request for the users it recognizes (the Entra token of a Function's
 * managed identity). client-node's authenticator interface, so either KubeConfig takes one.
 */
export interface KubeAuthenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: { headers?: Record<string, unknown> }): Promise<void>;
}

/**
 * What the Kubernetes clients need of a kubeconfig: our KubeConfig, or @kubernetes/client-node's
 * (same accessors), so callers holding either can collect.
 */
export interface KubeConfigLike {
  getCurrentCluster(): Cluster | null;
  getCurrentUser(): User | null;
  getCurrentContext(): string;
}

export class KubeConfig implements KubeConfigLike {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext = '';
  /** Authenticators consulted before the user's own credentials (never serialized). */
  readonly authenticators: KubeAuthenticator[] = [];

  getClusters(): Cluster[] {
    return this.clusters;
  }
  getUsers(): User[] {
    return this.users;
  }
  getContexts(): Context[] {
    return this.contexts;
  }
  getCurrentContext(): string {
    return this.currentContext;
  }
  setCurrentContext(name: string): void {
    this.currentContext = name;
  }
  getContextObject(name: string): Context | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }
  getCluster(name: string): Cluster | null {
    return this.clusters.find((c) => c.name === name) ?? null;
  }
  getUser(name: string): User | null {
    return this.users.find((u) => u.name === name) ?? null;
  }
  getCurrentCluster(): Cluster | null {
    const context = this.getContextObject(this.currentContext);
    return context ? this.getCluster(context.cluster) : null;
  }
  getCurrentUser(): User | null {
    const context = this.getContextObject(this.currentContext);
    return context ? this.getUser(context.user) : null;
  }
  addAuthenticator(authenticator: KubeAuthenticator): void {
    this.authenticators.push(authenticator);
  }

  loadFromOptions(options: { clusters: Cluster[]; users: User[]; contexts: Context[]; currentContext?: string | undefined }): void {
    this.clusters = options.clusters;
    this.users = options.users;
    this.contexts = options.contexts;
    this.currentContext = options.currentContext ?? '';
  }

  /** One cluster and one user under the context "loaded-context" (client-node's convention). */
  loadFromClusterAndUser(cluster: Cluster, user: User): void {
    this.loadFromOptions({ clusters: [cluster], users: [user], contexts: [{ name: 'loaded-context', cluster: cluster.name, user: user.name }], currentContext: 'loaded-context' });
  }

  /** A kubeconfig document (YAML or JSON); relative paths in it resolve against `baseDir` (default: the working directory). */
  loadFromString(text: string, baseDir?: string): void {
    const doc = parseYaml(text) as KubeconfigDocument | null | undefined;
    this.loadFromOptions(fromDocument(doc ?? {}, baseDir));
  }

  loadFromFile(file: string): void {
    this.loadFromString(readFileSync(file, 'utf8'), dirname(file));
  }
}

interface KubeconfigDocument {
  clusters?: unknown;
  users?: unknown;
  contexts?: unknown;
  'current-context'?: unknown;
}

type Entry = Record<string, unknown>;
const entries = (list: unknown): Entry[] => (Array.isArray(list) ? list.map((e) => (e && typeof e === 'object' ? (e as Entry) : {})) : []);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const fields = (v: unknown): Entry => (v && typeof v === 'object' ? (v as Entry) : {});

/** kubectl resolves file references against the kubeconfig's directory. */
function resolvePath(file: string | undefined, baseDir: string | undefined): string | undefined {
  if (file === undefined || baseDir === undefined || isAbsolute(file)) return file;
  return join(baseDir, file);
}

/** client-node's parsing rules (the same required fields and messages), plus token-file, impersonation groups/uid/extra. */
function fromDocument(doc: KubeconfigDocument, baseDir: string | undefined): { clusters: Cluster[]; users: User[]; contexts: Context[]; currentContext?: string } {
  const clusters = entries(doc.clusters).map((e, i): Cluster => {
    const name = text(e.name);
    if (!name) throw new Error(`clusters[${i}].name is missing`);
    const c = fields(e.cluster);
    if (e.cluster === undefined) throw new Error(`clusters[${i}].cluster is missing`);
    const server = text(c.server);
    if (!server) throw new Error(`clusters[${i}].cluster.server is missing`);
    const ext = entries(c.extensions).find((x) => x.name === 'client.authentication.k8s.io/exec');
    return {
      name,
      server: server.replace(/\/$/, ''),
      caData: text(c['certificate-authority-data']) ?? null,
      caFile: resolvePath(text(c['certificate-authority']), baseDir) ?? null,
      skipTLSVerify: c['insecure-skip-tls-verify'] === true,
      tlsServerName: text(c['tls-server-name']) ?? null,
      proxyUrl: text(c['proxy-url']) ?? null,
      ...(ext ? { execExtension: ext.extension } : {}),
    };
  });
  const users = entries(doc.users).map((e, i): User => {
    const name = text(e.name);
    if (!name) throw new Error(`users[${i}].name is missing`);
    const u = fields(e.user);
    let exec = u.exec && typeof u.exec === 'object' ? (u.exec as ExecPluginConfig) : undefined;
    // kubectl runs a plugin named by a relative path (not a bare command name) from the kubeconfig's directory.
    if (exec && typeof exec.command === 'string' && /[\\/]/.test(exec.command)) {
      exec = { ...exec, command: resolvePath(exec.command, baseDir) ?? exec.command };
    }
    const extra = fields(u['as-user-extra']);
    return {
      name,
      token: text(u.token) ?? null,
      tokenFile: resolvePath(text(u['token-file']), baseDir) ?? null,
      username: text(u.username) ?? null,
      password: typeof u.password === 'string' ? u.password : null,
      certData: text(u['client-certificate-data']) ?? null,
      certFile: resolvePath(text(u['client-certificate']), baseDir) ?? null,
      keyData: text(u['client-key-data']) ?? null,
      keyFile: resolvePath(text(u['client-key']), baseDir) ?? null,
      exec: exec ?? null,
      authProvider: u['auth-provider'] ?? null,
      impersonateUser: text(u.as) ?? null,
      impersonateUid: text(u['as-uid']) ?? null,
      impersonateGroups: Array.isArray(u['as-groups']) ? (u['as-groups'] as unknown[]).filter((g): g is string => typeof g === 'string') : null,
      impersonateExtra: Object.keys(extra).length ? Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : [String(v)]])) : null,
    };
  });
  const contexts = entries(doc.contexts).map((e, i): Context => {
    const name = text(e.name);
    if (!name) throw new Error(`contexts[${i}].name is missing`);
    if (e.context === undefined) throw new Error(`contexts[${i}].context is missing`);
    const c = fields(e.context);
    const cluster = text(c.cluster);
    if (!cluster) throw new Error(`contexts[${i}].context.cluster is missing`);
    const namespace = text(c.namespace);
    return { name, cluster, user: text(c.user) ?? '', ...(namespace ? { namespace } : {}) };
  });
  const current = text(doc['current-context']);
  return { clusters, users, contexts, ...(current ? { currentContext: current } : {}) };
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
    // Other failures (file system, "clusters[0].name is missing") quote no content.
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
export function describeCluster(kc: KubeConfigLike): ClusterIdentity {
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
