import { randomBytes } from 'node:crypto';
import { readRunClaim, type ClaimedRun } from '../evidence/claim.js';
import { CustodyLog, readCustodyLog, type CustodyRecord } from '../evidence/custody.js';
import { hashStream } from '../evidence/hash.js';
import { incrementDir, readIncrementManifest, type LostSegment } from '../evidence/increment.js';
import type { CollectorIdentity, EvidenceStore } from '../evidence/types.js';
import { findOwnSeal } from '../pipeline/seal.js';
import { AksEvidenceError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { MAX_PRESERVE_SECONDS, WATCHED_RESOURCES } from './resources.js';

/**
 * A preservation window's life in the run's custody chain: `preservation-started` opens it
 * (on a run whose manifest its own chain seals), segments follow, `preservation-ended` closes it.
 * The cursor is where the window stands — the next segment's number, the resourceVersion of
 * each watched resource, the last sealed segment — small enough to travel through Durable
 * history between bounded activities; it is always rebuilt against the custody chain, so a
 * retried activity continues after what an earlier attempt sealed and names what it lost.
 */

export { MAX_PRESERVE_SECONDS } from './resources.js';

export interface PreservationCursor {
  windowId: string;
  /** UTC RFC 3339. */
  startedAt: string;
  endsAt: string;
  /** SHA-256 of the sealed manifest.json the window continues. */
  baseManifestSha256: string;
  /** The number the next segment takes. */
  nextSeq: number;
  /** Resume point of each watched resource; empty before the first segment. */
  resourceVersions: Record<string, string>;
  /** End of the last sealed segment (the next one starts there). */
  at?: string;
  last?: { seq: number; manifestSha256: string };
}

export class PreservationError extends AksEvidenceError {
  override name = 'PreservationError';
}

export interface OpenWindowOptions {
  store: EvidenceStore;
  collector: CollectorIdentity;
  /** How long to keep preserving, seconds (1 s to 7 days). */
  preserveForSeconds: number;
  /** A deterministic id (the orchestrator's), so a retried start finds its own window; default random. */
  windowId?: string;
  /** Who asked and why (custody). */
  requestedBy?: string;
  reason?: string;
  /** Start anyway when another window of the run never recorded its end (its process died). */
  takeOver?: boolean;
  clock?: Clock;
  claim?: ClaimedRun;
  /** Segment settings, recorded in custody. */
  settings?: Record<string, unknown>;
}

/** The custody records of windows and increments, read once. */
function windowRecords(records: readonly (CustodyRecord & { sha256: string })[]) {
  const started = records.filter((r) => r.step === 'preservation-started');
  const ended = new Set(records.filter((r) => r.step === 'preservation-ended').map((r) => String(r.details['windowId'])));
  const seqs = records
    .filter((r) => r.step === 'increment-started' || r.step === 'increment-sealed')
    .map((r) => Number(r.details['seq']))
    .filter(Number.isInteger);
  return { started, ended, highestSeq: Math.max(0, ...seqs) };
}

/**
 * Open a preservation window on a sealed run (`preservation-started` in its custody chain), or
 * find the one a retried start opened with the same id. Refused on a run that is not sealed by
 * its own chain, and while another window of the run has not ended (unless takeOver).
 */
export async function openPreservationWindow(options: OpenWindowOptions): Promise<PreservationCursor> {
  const clock = options.clock ?? systemClock;
  const { store } = options;
  if (!Number.isInteger(options.preserveForSeconds) || options.preserveForSeconds < 1 || options.preserveForSeconds > MAX_PRESERVE_SECONDS) {
    throw new PreservationError('ERR_PRESERVE_FOR', `preserveFor must be from 1 second to 7 days (${MAX_PRESERVE_SECONDS} s); got ${options.preserveForSeconds}`);
  }
  const claim = options.claim ?? (await readRunClaim(store));
  const seal = await findOwnSeal(store);
  if (!seal)
    throw new PreservationError(
      'ERR_NOT_SEALED',
      `${store.location} has no manifest its custody chain seals: a window continues a sealed run (seal it first: aks-evidence seal <bundle>)`,
    );
  const records = await readCustodyLog(store);
  const { started, ended, highestSeq } = windowRecords(records);
  const own = options.windowId ? started.find((r) => r.details['windowId'] === options.windowId) : undefined;
  if (own) {
    return {
      windowId: String(own.details['windowId']),
      startedAt: String(own.details['startedAt']),
      endsAt: String(own.details['endsAt']),
      baseManifestSha256: String(own.details['baseManifestSha256']),
      nextSeq: highestSeq + 1,
      resourceVersions: {},
    };
  }
  const open = started.filter((r) => !ended.has(String(r.details['windowId'])));
  if (open.length && !options.takeOver) {
    const o = open.at(-1)!;
    throw new PreservationError(
      'ERR_WINDOW_OPEN',
      `preservation window ${String(o.details['windowId'])} of run ${claim.claim.runId} (started ${String(o.details['startedAt'])}, until ${String(o.details['endsAt'])}) has not ended: it may still be running. Stop it first, or if its process is gone, take over with --take-over`,
    );
  }
  const now = clock();
  const cursor: PreservationCursor = {
    windowId: options.windowId ?? randomBytes(8).toString('hex'),
    startedAt: toRfc3339(now),
    endsAt: toRfc3339(now.getTime() + options.preserveForSeconds * 1000),
    baseManifestSha256: seal.manifestSha256,
    nextSeq: highestSeq + 1,
    resourceVersions: {},
  };
  const custody = new CustodyLog(store, { runId: claim.claim.runId, caseId: claim.claim.caseId, collector: options.collector, claim, clock });
  await custody.record('preservation-started', {
    windowId: cursor.windowId,
    startedAt: cursor.startedAt,
    endsAt: cursor.endsAt,
    preserveForSeconds: options.preserveForSeconds,
    baseManifestSha256: cursor.baseManifestSha256,
    watched: WATCHED_RESOURCES.map((r) => r.key),
    ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
    ...(open.length ? { tookOver: open.map((r) => String(r.details['windowId'])) } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
  });
  return cursor;
}

/**
 * The cursor as the custody chain says it stands: segments an earlier attempt sealed after
 * `cursor` are taken (resume after the newest), segments started and never sealed are returned
 * as lost, with their files hashed.
 */
export async function reconcileCursor(store: EvidenceStore, cursor: PreservationCursor, now: string): Promise<{ cursor: PreservationCursor; lost: LostSegment[] }> {
  const records = await readCustodyLog(store);
  const started = new Map<number, CustodyRecord>();
  const sealed = new Map<number, CustodyRecord>();
  for (const r of records) {
    const seq = Number(r.details['seq']);
    if (!Number.isInteger(seq) || seq < cursor.nextSeq) continue;
    if (r.step === 'increment-started') started.set(seq, r);
    if (r.step === 'increment-sealed') sealed.set(seq, r);
  }
  let next = { ...cursor };
  const newestSealed = Math.max(0, ...sealed.keys());
  if (newestSealed > 0) {
    const { manifest, sha256 } = await readIncrementManifest(store, newestSealed);
    next = { ...next, resourceVersions: manifest.cursor.to, at: manifest.to, last: { seq: newestSealed, manifestSha256: sha256 } };
  }
  const lost: LostSegment[] = [];
  for (const [seq, r] of [...started].sort((a, b) => a[0] - b[0])) {
    if (sealed.has(seq) || seq < newestSealed) continue;
    const files: LostSegment['files'] = [];
    for await (const info of store.list(incrementDir(seq))) {
      const hashed = await hashStream(await store.read(info.path));
      files.push({ path: info.path, sha256: hashed.sha256, bytes: hashed.bytes });
    }
    lost.push({
      seq,
      from: String(r.details['from'] ?? r.at),
      to: now,
      reason: 'started and never sealed: the process holding it stopped (activity failed or was cut off)',
      files,
    });
  }
  // Unsealed segments before the newest sealed one were already named by it, or are older faults.
  next.nextSeq = Math.max(cursor.nextSeq, ...[...started.keys(), ...sealed.keys()].map((s) => s + 1));
  return { cursor: next, lost };
}

export interface CloseWindowOptions {
  store: EvidenceStore;
  collector: CollectorIdentity;
  cursor: PreservationCursor;
  /** window-ended | stopped (Ctrl-C, DELETE, incident closed) | failed */
  reason: string;
  detail?: string;
  totals?: Record<string, number>;
  clock?: Clock;
}

/** Close the window in custody (`preservation-ended`); a retried close finds its own record. */
export async function closePreservationWindow(options: CloseWindowOptions): Promise<{ alreadyEnded: boolean }> {
  const { store } = options;
  const records = await readCustodyLog(store);
  if (records.some((r) => r.step === 'preservation-ended' && r.details['windowId'] === options.cursor.windowId)) return { alreadyEnded: true };
  const claim = await readRunClaim(store);
  const custody = new CustodyLog(store, {
    runId: claim.claim.runId,
    caseId: claim.claim.caseId,
    collector: options.collector,
    claim,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const segments = records.filter((r) => r.step === 'increment-sealed').length;
  await custody.record('preservation-ended', {
    windowId: options.cursor.windowId,
    reason: options.reason,
    ...(options.detail ? { detail: options.detail } : {}),
    endsAt: options.cursor.endsAt,
    segmentsSealed: segments,
    ...(options.cursor.last ? { lastSegment: options.cursor.last } : {}),
    ...(options.totals ? { totals: options.totals } : {}),
  });
  return { alreadyEnded: false };
}
