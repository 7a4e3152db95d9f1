import { EvidenceStoreError } from './errors.js';
import { validateBundleId } from './paths.js';

/** True for http(s) URLs: those name Blob containers or runs; anything else is a directory. */
export function isBlobUrl(location: string): boolean {
  return /^https?:\/\//i.test(location.trim());
}

export interface ParsedBlobUrl {
  /** scheme://host[:port][/account] — the account's Blob endpoint, no query. */
  accountUrl: string;
  accountName: string;
  container: string;
  /** Path segments after the container. */
  rest: string[];
  /** The query string (a SAS) as given, without "?", or '' — never printed. */
  query: string;
  /** True when the account is the first path segment (Azurite, IP or single-label hosts). */
  pathStyle: boolean;
}

/**
 * Split a Blob URL into account, container and the rest. Azurite and other emulators use
 * path-style URLs (http://127.0.0.1:10000/<account>/<container>/...): chosen when the host is
 * an IP address or has no dot; otherwise the account is the first host label
 * (https://<account>.blob.core.windows.net/<container>/...).
 */
export function parseBlobUrl(url: string): ParsedBlobUrl {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new EvidenceStoreError('not a valid Blob URL (expected https://<account>.blob.core.windows.net/<container>[/...])');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new EvidenceStoreError(`a Blob URL must be http(s), not ${u.protocol}`);
  const host = u.hostname;
  const pathStyle = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[') || !host.includes('.');
  const segments = u.pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
  let accountName: string;
  let accountUrl: string;
  if (pathStyle) {
    const account = segments.shift();
    if (!account) throw new EvidenceStoreError(`Blob URL ${u.origin}/ names no account: expected ${u.origin}/<account>/<container>`);
    accountName = account;
    accountUrl = `${u.origin}/${account}`;
  } else {
    accountName = host.split('.')[0] ?? host;
    accountUrl = u.origin;
  }
  const container = segments.shift();
  if (!container) throw new EvidenceStoreError(`Blob URL ${accountUrl} names no container: expected ${accountUrl}/<container>`);
  return { accountUrl, accountName, container, rest: segments, query: u.search.replace(/^\?/, ''), pathStyle };
}

export interface ParsedRunUrl {
  /** The container URL, with the query (SAS) if one was given. */
  containerUrl: string;
  caseId: string;
  runId: string;
}

/** Parse the Blob URL of a run, <container>/<caseId>/<runId> (a trailing /manifest.json is accepted). */
export function parseBlobRunUrl(url: string): ParsedRunUrl {
  const parsed = parseBlobUrl(url);
  const rest = [...parsed.rest];
  if (rest[rest.length - 1] === 'manifest.json') rest.pop();
  if (rest.length !== 2 || !rest[0] || !rest[1]) {
    throw new EvidenceStoreError(`a run's Blob URL is ${parsed.accountUrl}/${parsed.container}/<caseId>/<runId>; this one has ${rest.length} segment(s) after the container`);
  }
  const caseId = validateBundleId('caseId', rest[0]);
  const runId = validateBundleId('runId', rest[1]);
  const containerUrl = `${parsed.accountUrl}/${encodeURIComponent(parsed.container)}${parsed.query ? `?${parsed.query}` : ''}`;
  return { containerUrl, caseId, runId };
}

/** Permissions granted by a SAS query string (its sp= field), '' when absent. */
export function sasPermissions(query: string): string {
  return new URLSearchParams(query).get('sp') ?? '';
}

/** SAS permission letters that allow destroying evidence: delete, delete version, permanent delete. */
export function sasDeleteRights(permissions: string): string[] {
  return [...permissions].filter((p) => p === 'd' || p === 'x' || p === 'y');
}
