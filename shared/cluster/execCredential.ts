import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { AksEvidenceError } from '../util/errors.js';
import type { Cluster, ExecPluginConfig } from './kubeConfig.js';

/**
 * Exec credential plugins (users[].user.exec: kubelogin, aws-iam-authenticator, gke-gcloud-auth-plugin,
 * …), run as kubectl runs them: the command with its args, the parent environment plus the
 * plugin's `env`, KUBERNETES_EXEC_INFO describing the request (never interactive: the collector
 * has no terminal to lend; cluster details when provideClusterInfo is set), the plugin's stderr
 * passed through (device-code prompts must reach the responder), and its stdout read as an
 * ExecCredential. The credential is kept in memory until its expirationTimestamp (or until the
 * API server answers 401), one plugin run at a time however many requests wait for it. Error
 * messages never quote the plugin's output: it holds the credential.
 */

export interface ExecCredentialStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  /** RFC 3339; absent = valid until the server refuses it. */
  expirationTimestamp?: string;
}

export interface ExecCredentialOptions {
  /** Environment the plugin inherits (default: this process's, as kubectl does). */
  env?: NodeJS.ProcessEnv;
  /** Where the plugin's stderr goes (default: this process's stderr). */
  stderr?: Writable;
  /** Time limit of one plugin run in ms (default 120000: long enough for a device-code login). */
  timeoutInMs?: number;
  /** Refresh this many ms before expirationTimestamp (default 10000). */
  refreshMarginInMs?: number;
  now?: () => number;
}

const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

export class ExecCredentialError extends AksEvidenceError {
  override name = 'ExecCredentialError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EXEC_CREDENTIAL', message, options);
  }
}

export class ExecCredentialPlugin {
  private cached: { status: ExecCredentialStatus; expiresAt: number } | undefined;
  private pending: Promise<ExecCredentialStatus> | undefined;

  constructor(
    private readonly exec: ExecPluginConfig,
    private readonly cluster: Cluster | null,
    private readonly options: ExecCredentialOptions = {},
  ) {
    if (typeof exec?.command !== 'string' || exec.command === '')
      throw new ExecCredentialError("the kubeconfig user's exec plugin names no command: set users[].user.exec.command");
  }

  /** A credential that has not expired (running the plugin when there is none). */
  async credential(): Promise<ExecCredentialStatus> {
    const now = (this.options.now ?? Date.now)();
    if (this.cached && this.cached.expiresAt - (this.options.refreshMarginInMs ?? 10_000) > now) return this.cached.status;
    this.pending ??= this.run().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The server refused the credential (401): the next request runs the plugin again. */
  invalidate(): void {
    this.cached = undefined;
  }

  private describe(): string {
    return `exec credential plugin "${this.exec.command}"`;
  }

  private execInfo(): string {
    const apiVersion = this.exec.apiVersion && API_VERSIONS.includes(this.exec.apiVersion) ? this.exec.apiVersion : API_VERSIONS[0]!;
    const spec: Record<string, unknown> = { interactive: false };
    if (this.exec.provideClusterInfo && this.cluster) {
      const c = this.cluster;
      spec.cluster = {
        server: c.server,
        ...(c.tlsServerName ? { 'tls-server-name': c.tlsServerName } : {}),
        ...(c.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        ...(c.caData ? { 'certificate-authority-data': c.caData } : {}),
        ...(c.proxyUrl ? { 'proxy-url': c.proxyUrl } : {}),
        ...(c.execExtension !== undefined ? { config: c.execExtension } : {}),
      };
    }
    return JSON.stringify({ apiVersion, kind: 'ExecCredential', spec });
  }

  private async run(): Promise<ExecCredentialStatus> {
    if (this.exec.interactiveMode === 'Always') {
      throw new ExecCredentialError(
        `${this.describe()} needs an interactive terminal (interactiveMode: Always), which a collection cannot lend it: log in once with the plugin yourself, or use a non-interactive login (for AKS: kubelogin convert-kubeconfig -l azurecli)`,
      );
    }
    const env: NodeJS.ProcessEnv = { ...(this.options.env ?? process.env) };
    for (const e of this.exec.env ?? []) if (e && typeof e.name === 'string') env[e.name] = String(e.value ?? '');
    env.KUBERNETES_EXEC_INFO = this.execInfo();
    const timeoutInMs = this.options.timeoutInMs ?? 120_000;
    const stdout: Buffer[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(this.exec.command, (this.exec.args ?? []).map(String), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill();
      }, timeoutInMs);
      timer.unref();
      child.stdout.on('data', (d: Buffer) => stdout.push(d));
      child.stderr.on('data', (d: Buffer) => (this.options.stderr ?? process.stderr).write(d));
      child.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error.code === 'ENOENT') {
          reject(
            new ExecCredentialError(
              `${this.describe()} was not found${this.exec.installHint ? `: ${this.exec.installHint.trim()}` : ': install it or fix users[].user.exec.command in the kubeconfig'}`,
              { cause: error },
            ),
          );
        } else reject(new ExecCredentialError(`${this.describe()} could not be started: ${error.message}`, { cause: error }));
      });
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        if (timedOut) reject(new ExecCredentialError(`${this.describe()} gave no credential within ${timeoutInMs / 1000} s`));
        else resolve(exitCode);
      });
    });
    if (code !== 0) throw new ExecCredentialError(`${this.describe()} exited with code ${code} (its own messages, if any, are above on stderr)`);
    let parsed: { apiVersion?: unknown; kind?: unknown; status?: ExecCredentialStatus };
    try {
      parsed = JSON.parse(Buffer.concat(stdout).toString('utf8')) as typeof parsed;
    } catch {
      throw new ExecCredentialError(`${this.describe()} did not print an ExecCredential (JSON) on stdout`);
    }
    const status = parsed?.status;
    if (parsed?.kind !== 'ExecCredential' || !status || typeof status !== 'object')
      throw new ExecCredentialError(`${this.describe()} printed something other than an ExecCredential with a status`);
    if (!status.token && !(status.clientCertificateData && status.clientKeyData)) {
      throw new ExecCredentialError(`${this.describe()} returned neither a token nor a client certificate and key`);
    }
    const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.POSITIVE_INFINITY;
    this.cached = { status, expiresAt: Number.isNaN(expiresAt) ? Number.POSITIVE_INFINITY : expiresAt };
    return status;
  }
}
