import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactConflictError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { readRunClaim, type ClaimedRun } from './claim.js';
import { EvidenceStoreError } from './errors.js';
import { sha256Hex } from './hash.js';
import { readSmallArtifact } from './manifest.js';
import type { CollectorIdentity, EvidenceStore, WrittenArtifact } from './types.js';

/** Where custody records live in a bundle. */
export const CUSTODY_PREFIX = 'custody/';
/** custody/NNNN.json: the record's number is its whole name, so one number can be written once only. */
export const CUSTODY_RECORD = /^custody\/(\d{4,})\.json$/;
const MAX_APPEND_ATTEMPTS = 10_000;
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** The steps the pipeline records. Other step names are allowed (lowercase, digits, "-"). */
export type CustodyStep =
  'collection-started' | 'artifacts-sealed' | 'collection-interrupted' | 'manifest-sealed' | 'timestamp-anchored' | 'log-analytics-anchored' | 'ingestion-attempt' | (string & {});

export interface CustodyRecord {
  schemaVersion: 2;
  /** Position in the run's custody chain (1-based); the record is custody/<seq, 4+ digits>.json. */
  seq: number;
  step: string;
  /** UTC RFC 3339. */
  at: string;
  runId: string;
  caseId: string;
  /** Who/what did it: tool, version, commit, host, identity, runtime. */
  actor: CollectorIdentity;
  host: string;
  /** SHA-256 of the stored bytes of record seq-1; for record 1, of the run's claim (which carries its random nonce). */
  prev: string;
  /** Random per record: two writers never produce the same bytes, so one cannot be mistaken for the other's retry. */
  id: string;
  details: Record<string, unknown>;
}

/** A record as stored: parsed, with the SHA-256 of its bytes (what the next record's prev must be). */
export interface StoredCustodyRecord {
  path: string;
  sha256: string;
  record: CustodyRecord;
}

/** The chain's current end: the newest record's number and hash (0 and the claim's hash before the first record). */
export interface ChainHead {
  seq: number;
  sha256: string;
}

export interface CustodyLogOptions {
  runId: string;
  caseId: string;
  /** The collector identity (see collectorIdentity()). */
  collector: CollectorIdentity;
  /** The run's claim (read from the store when absent). */
  claim?: ClaimedRun;
  clock?: Clock;
}

export function custodyRecordPath(seq: number): string {
  return `${CUSTODY_PREFIX}${String(seq).padStart(4, '0')}.json`;
}

/**
 * The run's chain of custody: one write-once record per step, custody/NNNN.json, each
 * carrying the SHA-256 of the record before it (record 1: of the run's claim). Editing,
 * deleting, inserting or reordering a record breaks a link that verify names.
 *
 * Why a linear chain appended by compare-and-swap: collect activities run in parallel on
 * several Functions instances and each appends a record. A record's name is its number
 * alone and is written with If-None-Match: * (no-overwrite link locally), so exactly one
 * writer can ever hold number N+1, and it must name record N's hash to do so. A writer that
 * loses the race reads the winner's record (which it needs anyway: its hash is the new
 * `prev`) and tries N+2. Concurrent appends therefore cannot fork the chain (two records
 * claiming the same predecessor would need the same name) and cannot lose a record (a
 * loser retries until its own record lands). A record is written in one call, so a writer
 * that dies leaves either a whole record or none: the chain never waits on a dead writer.
 * The alternative (per-task records folded into the seal in a deterministic order) would
 * also leave ingestion attempts and later seals outside any chain; this one covers them all.
 */
export class CustodyLog {
  private head: ChainHead | undefined;
  /** Serializes this instance's records so they are appended in call order. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;
  private claim: ClaimedRun | undefined;

  constructor(
    private readonly store: EvidenceStore,
    private readonly options: CustodyLogOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.claim = options.claim;
  }

  /** Append one record. Details must be JSON and must not carry secrets (tokens, keys, SAS). */
  record(step: CustodyStep, details: object = {}): Promise<WrittenArtifact & { seq: number; prev: string }> {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(step)) {
      return Promise.reject(new EvidenceStoreError(`custody step ${JSON.stringify(step)} must be lowercase letters, digits and "-"`));
    }
    const run = this.chain.then(() => this.append(step, details));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The chain's end as this log last saw it, re-read from the store. */
  async currentHead(): Promise<ChainHead> {
    await this.chain;
    this.head = await findChainHead(this.store, await this.claimed());
    return this.head;
  }

  private async claimed(): Promise<ClaimedRun> {
    this.claim ??= await readRunClaim(this.store);
    return this.claim;
  }

  private async append(step: string, details: object): Promise<WrittenArtifact & { seq: number; prev: string }> {
    const at = toRfc3339(this.clock());
    let head = this.head ?? (await findChainHead(this.store, await this.claimed()));
    const body = JSON.parse(JSON.stringify(details ?? {})) as Record<string, unknown>;
    const id = randomBytes(8).toString('hex');
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const record: CustodyRecord = {
        schemaVersion: 2,
        seq: head.seq + 1,
        step,
        at,
        runId: this.options.runId,
        caseId: this.options.caseId,
        actor: this.options.collector,
        host: this.options.collector.host,
        prev: head.sha256,
        id,
        details: body,
      };
      const path = custodyRecordPath(record.seq);
      try {
        // A byte-identical record already there (alreadyExisted) is this very call's own write
        // (a retried request whose first answer was lost): the random id makes it no one else's.
        const written = await this.store.writeArtifact(path, serializeCustodyRecord(record), {
          contentType: 'application/json',
          metadata: { kind: 'custody', step, runId: this.options.runId, caseId: this.options.caseId },
        });
        await this.store.protect?.(path);
        this.head = { seq: record.seq, sha256: written.sha256 };
        return { ...written, seq: record.seq, prev: record.prev };
      } catch (error) {
        if (!(error instanceof ArtifactConflictError)) throw error;
        // Another writer holds this number: its record is the new predecessor.
        const winner = await readCustodyRecord(this.store, path);
        if (winner.record.seq !== record.seq) {
          throw new EvidenceStoreError(`custody record ${path} says it is number ${winner.record.seq}: the custody chain in ${this.store.location} is damaged`);
        }
        head = { seq: winner.record.seq, sha256: winner.sha256 };
      }
    }
    throw new EvidenceStoreError(`could not append a custody record after ${MAX_APPEND_ATTEMPTS} attempts`);
  }
}

/** The bytes of a record as stored (2-space JSON, trailing newline). */
export function serializeCustodyRecord(record: CustodyRecord): string {
  return JSON.stringify(record, null, 2) + '\n';
}

/** The chain's end: the highest-numbered record and its hash, or {0, claim hash} before the first record. */
export async function findChainHead(store: EvidenceStore, claim: ClaimedRun): Promise<ChainHead> {
  let max = 0;
  for await (const item of store.list(CUSTODY_PREFIX)) {
    const m = CUSTODY_RECORD.exec(item.path);
    if (m?.[1]) max = Math.max(max, Number(m[1]));
  }
  if (max === 0) return { seq: 0, sha256: claim.sha256 };
  return { seq: max, sha256: (await readCustodyRecord(store, custodyRecordPath(max))).sha256 };
}

/** Read one record: parsed, with the hash of its bytes. */
export async function readCustodyRecord(store: EvidenceStore, path: string, options: { abortSignal?: AbortSignal } = {}): Promise<StoredCustodyRecord> {
  const bytes = await readSmallArtifact(store, path, MAX_RECORD_BYTES, options);
  let record: CustodyRecord;
  try {
    record = JSON.parse(bytes.toString('utf8')) as CustodyRecord;
  } catch (error) {
    throw new EvidenceStoreError(`custody record ${path} is not valid JSON`, { cause: error });
  }
  return { path, sha256: sha256Hex(bytes), record };
}

/**
 * The run's custody records in chain order, each with its hash. Does not judge the chain
 * (see walkCustodyChain in verify for that): an unreadable record throws.
 */
export async function readCustodyLog(store: EvidenceStore, options: { abortSignal?: AbortSignal } = {}): Promise<(CustodyRecord & { sha256: string; path: string })[]> {
  const paths: { path: string; seq: number }[] = [];
  for await (const item of store.list(CUSTODY_PREFIX)) {
    const m = CUSTODY_RECORD.exec(item.path);
    if (m?.[1]) paths.push({ path: item.path, seq: Number(m[1]) });
  }
  paths.sort((a, b) => a.seq - b.seq);
  const out: (CustodyRecord & { sha256: string; path: string })[] = [];
  for (const p of paths) {
    const r = await readCustodyRecord(store, p.path, options);
    out.push({ ...r.record, sha256: r.sha256, path: p.path });
  }
  return out;
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
