import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactConflictError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { EvidenceStoreError } from './errors.js';
import { readSmallArtifact } from './manifest.js';
import type { CollectorIdentity, EvidenceStore, WrittenArtifact } from './types.js';

/** Where custody records live in a bundle. */
export const CUSTODY_PREFIX = 'custody/';
/** Number claims: one write-once marker per record number, so concurrent writers never share a number. */
const CLAIM_PREFIX = 'custody/.seq/';
const MAX_CLAIM_ATTEMPTS = 1000;

/** The steps the pipeline records. Other step names are allowed (lowercase, digits, "-"). */
export type CustodyStep = 'collection-started' | 'artifact-sealed' | 'artifacts-sealed' | 'manifest-sealed' | 'ingestion-attempt' | (string & {});

export interface CustodyRecord {
  schemaVersion: 1;
  /** Position in the run's custody log (1-based). */
  seq: number;
  step: string;
  /** UTC RFC 3339. */
  at: string;
  runId: string;
  caseId: string;
  /** Who/what did it: tool, version, commit, host, identity, runtime. */
  actor: CollectorIdentity;
  host: string;
  details: Record<string, unknown>;
}

export interface CustodyLogOptions {
  runId: string;
  caseId: string;
  /** The collector identity (see collectorIdentity()). */
  collector: CollectorIdentity;
  clock?: Clock;
}

/**
 * The run's chain-of-custody log: one write-once artifact per step,
 * custody/NNNN-<step>.json, numbered in order. Writers in other processes (Durable
 * activities) may append concurrently: each number is claimed with a write-once marker
 * (custody/.seq/NNNN) first, and a writer that loses a claim takes the next number.
 */
export class CustodyLog {
  private next: number | undefined;
  /** Serializes this instance's records so they are numbered in call order. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;

  constructor(
    private readonly store: EvidenceStore,
    private readonly options: CustodyLogOptions,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** Append one record. Details must be JSON and must not carry secrets (tokens, keys, SAS). */
  record(step: CustodyStep, details: object = {}): Promise<WrittenArtifact & { seq: number }> {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(step)) {
      return Promise.reject(new EvidenceStoreError(`custody step ${JSON.stringify(step)} must be lowercase letters, digits and "-"`));
    }
    const run = this.chain.then(() => this.append(step, details));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async append(step: string, details: object): Promise<WrittenArtifact & { seq: number }> {
    const at = toRfc3339(this.clock());
    let seq = this.next ?? (await highestClaim(this.store)) + 1;
    const nonce = randomBytes(8).toString('hex');
    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_CLAIM_ATTEMPTS) throw new EvidenceStoreError(`could not claim a custody record number after ${MAX_CLAIM_ATTEMPTS} attempts`);
      const claim = JSON.stringify({ step, at, host: this.options.collector.host, nonce }) + '\n';
      try {
        await this.store.writeArtifact(`${CLAIM_PREFIX}${pad(seq)}`, claim, { contentType: 'application/json', metadata: { kind: 'custody-claim' } });
        break;
      } catch (error) {
        if (!(error instanceof ArtifactConflictError)) throw error;
        // Another writer holds this number; skip ahead past whatever is claimed now.
        seq = Math.max(seq + 1, (await highestClaim(this.store)) + 1);
      }
    }
    this.next = seq + 1;
    const record: CustodyRecord = {
      schemaVersion: 1,
      seq,
      step,
      at,
      runId: this.options.runId,
      caseId: this.options.caseId,
      actor: this.options.collector,
      host: this.options.collector.host,
      details: JSON.parse(JSON.stringify(details ?? {})) as Record<string, unknown>,
    };
    const path = `${CUSTODY_PREFIX}${pad(seq)}-${step}.json`;
    const written = await this.store.writeArtifact(path, JSON.stringify(record, null, 2) + '\n', {
      contentType: 'application/json',
      metadata: { kind: 'custody', step, runId: this.options.runId, caseId: this.options.caseId },
    });
    await this.store.protect?.(path);
    return { ...written, seq };
  }
}

function pad(n: number): string {
  return String(n).padStart(4, '0');
}

async function highestClaim(store: EvidenceStore): Promise<number> {
  let max = 0;
  for await (const item of store.list(CLAIM_PREFIX)) {
    const m = /^custody\/\.seq\/(\d+)$/.exec(item.path);
    if (m?.[1]) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/** The run's custody records in order (claims without a record — a writer that died — are skipped). */
export async function readCustodyLog(store: EvidenceStore, options: { abortSignal?: AbortSignal } = {}): Promise<CustodyRecord[]> {
  const records: CustodyRecord[] = [];
  for await (const item of store.list(CUSTODY_PREFIX)) {
    if (!/^custody\/\d+-[a-z0-9-]+\.json$/.test(item.path)) continue;
    const bytes = await readSmallArtifact(store, item.path, 16 * 1024 * 1024, options);
    records.push(JSON.parse(bytes.toString('utf8')) as CustodyRecord);
  }
  return records.sort((a, b) => a.seq - b.seq);
}

export interface CollectorIdentityOptions {
  /** 'cli', 'azure-functions', 'bench', … */
  runtime: string;
  /** Who runs it: managed identity client id, Entra principal, or OS user. Default: the OS user. Never a token. */
  identity?: string;
  /** The installation to read package.json and .git from. Default: found from this module's location. */
  installDir?: string;
}

/**
 * Who is collecting, from where, with what: tool version (package.json), git commit when the
 * install is a checkout, host name, identity. Reads only local files; tolerates their absence.
 */
export function collectorIdentity(options: CollectorIdentityOptions): CollectorIdentity {
  const root = options.installDir ? resolve(options.installDir) : findInstallRoot();
  let version = 'unknown';
  if (root) {
    try {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') version = pkg.version;
    } catch {
      // no package.json: version stays unknown
    }
  }
  const gitCommit = root ? readGitCommit(root) : undefined;
  let identity = options.identity;
  if (!identity) {
    try {
      identity = userInfo().username || undefined;
    } catch {
      identity = undefined; // no passwd entry (some containers)
    }
  }
  return {
    tool: 'aks-evidence',
    version,
    ...(gitCommit ? { gitCommit } : {}),
    host: safeHostname(),
    ...(identity ? { identity } : {}),
    runtime: options.runtime,
  };
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return 'unknown';
  }
}

/** The nearest directory above this module whose package.json names aks-evidence (works from shared/ and dist/shared/). */
function findInstallRoot(): string | undefined {
  let dir: string;
  try {
    dir = dirname(fileURLToPath(import.meta.url));
  } catch {
    return undefined;
  }
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown };
        if (pkg.name === 'aks-evidence') return dir;
      } catch {
        // keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** The commit HEAD points at, from .git (a directory, or a worktree's "gitdir:" file), or undefined. */
export function readGitCommit(root: string): string | undefined {
  try {
    let gitDir = join(root, '.git');
    if (!existsSync(gitDir)) return undefined;
    if (statSync(gitDir).isFile()) {
      const m = /^gitdir:\s*(.+)\s*$/m.exec(readFileSync(gitDir, 'utf8'));
      if (!m?.[1]) return undefined;
      gitDir = resolve(root, m[1].trim());
    }
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(head)) return head;
    const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
    if (!ref || ref.includes('..')) return undefined;
    // Worktrees keep shared refs in the common dir.
    const commonDirFile = join(gitDir, 'commondir');
    const dirs = [gitDir, ...(existsSync(commonDirFile) ? [resolve(gitDir, readFileSync(commonDirFile, 'utf8').trim())] : [])];
    for (const d of dirs) {
      const refFile = join(d, ...ref.split('/'));
      if (existsSync(refFile)) {
        const sha = readFileSync(refFile, 'utf8').trim();
        if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) return sha;
      }
      const packed = join(d, 'packed-refs');
      if (existsSync(packed)) {
        for (const line of readFileSync(packed, 'utf8').split('\n')) {
          const [sha, name] = line.trim().split(/\s+/);
          if (name === ref && sha && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) return sha;
        }
      }
    }
    return undefined;
  } catch {
    return undefined;
  }
}
