/**
 * Authentication like an AKS API server: client certificates signed by the cluster CA (local
 * accounts: CN = user, O = groups) and bearer tokens, tried in that order; anonymous requests
 * are refused (401) unless anonymous auth is switched on. Tokens and keys are generated per
 * start and live in memory only.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { stringify as toYaml } from 'yaml';
import { issueClientCert, type ClientCert, type TestCa } from '../tls.js';

export interface UserInfo {
  name: string;
  groups: string[];
}

export type CredentialKind = 'token' | 'certificate';

export interface IssuedCredential {
  user: UserInfo;
  kind: CredentialKind;
  /** Bearer token (kind 'token'). */
  token?: string;
  /** Client certificate and key (kind 'certificate'). */
  cert?: ClientCert;
}

export const AUTHENTICATED = 'system:authenticated';
export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The groups Kubernetes gives a user: service accounts get their two groups; everyone system:authenticated. */
export function withDefaultGroups(name: string, groups?: readonly string[]): UserInfo {
  const out = new Set(groups ?? []);
  const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(name);
  if (sa && groups === undefined) {
    out.add('system:serviceaccounts');
    out.add(`system:serviceaccounts:${sa[1]}`);
  }
  out.add(AUTHENTICATED);
  return { name, groups: [...out] };
}

export class Authenticator {
  private readonly tokens = new Map<string, UserInfo>();

  constructor(
    private readonly ca: TestCa,
    private readonly anonymousAuth: boolean,
  ) {}

  /** Issue a credential for a user (groups as given; system:authenticated is implied, as the server adds it). */
  async issue(name: string, groups: readonly string[] | undefined, kind: CredentialKind): Promise<IssuedCredential> {
    const user = withDefaultGroups(name, groups);
    if (kind === 'certificate') {
      const certGroups = user.groups.filter((g) => g !== AUTHENTICATED);
      return { user, kind, cert: await issueClientCert(this.ca, name, certGroups) };
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, user);
    return { user, kind, token };
  }

  /** Who sent this request; undefined = 401. */
  authenticate(req: IncomingMessage): UserInfo | undefined {
    const socket = req.socket as TLSSocket;
    const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (cert && Object.keys(cert).length > 0) {
      // A certificate the cluster CA did not sign is a failed authentication, not anonymous.
      if (!socket.authorized) return undefined;
      const subject = cert.subject as unknown as Record<string, string | string[] | undefined>;
      const cn = subject['CN'];
      const o = subject['O'];
      const name = Array.isArray(cn) ? cn[0] : cn;
      if (!name) return undefined;
      return withDefaultGroups(name, o === undefined ? [] : Array.isArray(o) ? o : [o]);
    }
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      return m ? this.tokens.get(m[1]!) : undefined;
    }
    return this.anonymousAuth ? ANONYMOUS : undefined;
  }
}

/** A kubeconfig (YAML) for one credential; context name "fixture". */
export function kubeconfigFor(server: string, caPem: string, cred: IssuedCredential): string {
  const user: Record<string, string> =
    cred.kind === 'certificate'
      ? { 'client-certificate-data': Buffer.from(cred.cert!.certPem).toString('base64'), 'client-key-data': Buffer.from(cred.cert!.keyPem).toString('base64') }
      : { token: cred.token! };
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fixture', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'fixture', user }],
    contexts: [{ name: 'fixture', context: { cluster: 'fixture', user: 'fixture' } }],
    'current-context': 'fixture',
  });
}
