import { randomBytes } from 'node:crypto';
import { AksEvidenceError, ArtifactConflictError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { sha256Hex } from './hash.js';
import { readSmallArtifact } from './manifest.js';
import type { CollectorIdentity, EvidenceStore } from './types.js';

/**
 * A run's claim on its bundle path: the first object a run writes, write-once, carrying a
 * random nonce. A run trusts only what it wrote, and proves it with this nonce:
 *   - before claiming, the path must be empty: anything already there (a manifest, an
 *     artifact, a summary) makes the run refuse the path and say what it found;
 *   - the first custody record's `prev` is the SHA-256 of the claim, so the custody chain is
 *     rooted in it;
 *   - every task summary records the nonce, so a retried task adopts only its own summary.
 * The nonce is not a secret (anyone who can read the bundle reads it): it binds, it does not
 * authenticate. What proves a bundle to someone who trusts nothing in the storage are the
 * anchors outside it (Log Analytics row, RFC 3161 timestamp, a hash the user kept).
 */
export const CLAIM_PATH = 'custody/claim.json';

export interface PreviousAttempt {
  /** Run id of the attempt this one replaces (its own bundle path). */
  runId: string;
  /** What became of it, as the orchestration reported (Failed, Terminated, …). */
  runtimeStatus?: string;
}

export interface RunClaim {
  schemaVersion: 1;
  kind: 'aks-evidence-run-claim';
  runId: string;
  caseId: string;
  /** 32 random bytes, hex: roots the custody chain and marks what this run wrote. */
  nonce: string;
  /** UTC RFC 3339. */
  claimedAt: string;
  claimedBy: CollectorIdentity;
  /** Where the bundle lives (no SAS, no key). */
  location: string;
  /** The earlier attempt of the same request this run replaces, if any. */
  previousAttempt?: PreviousAttempt;
}

/** A claim as read back: the claim and the SHA-256 of its stored bytes (the custody chain's root). */
export interface ClaimedRun {
  claim: RunClaim;
  sha256: string;
}

/** The run's path holds objects this run did not write: refused. */
export class PathInUseError extends AksEvidenceError {
  override name = 'PathInUseError';
  constructor(
    readonly location: string,
    readonly found: readonly string[],
    reason: string,
  ) {
    super(
      'ERR_PATH_IN_USE',
      `refusing ${location}: ${reason} (found ${found.slice(0, 5).join(', ')}${found.length > 5 ? `, and ${found.length - 5} more` : ''}). A run writes only into an empty path it claimed itself; ` +
        'investigate what is there and start a new run (it gets its own path)',
    );
  }
}

/** The bundle has no claim (not started by this version, or not a bundle). */
export class RunNotClaimedError extends AksEvidenceError {
  override name = 'RunNotClaimedError';
  constructor(location: string) {
    super('ERR_RUN_NOT_CLAIMED', `${location} holds no run claim (${CLAIM_PATH}): it was not started by aks-evidence, or its claim was removed`);
  }
}

/** A new random claim nonce (what the CLI uses; the Functions app draws one when a run starts and passes it in). */
export function newClaimNonce(): string {
  return randomBytes(32).toString('hex');
}

export interface ClaimRunPathOptions {
  runId: string;
  caseId: string;
  /** The run's nonce. A retried step passing the same nonce finds its own claim and goes on. Default: a new random one. */
  nonce?: string;
  collector: CollectorIdentity;
  previousAttempt?: PreviousAttempt;
  clock?: Clock;
  /** When the claim is written again by a retried step, the same time keeps the bytes identical (default: now). */
  claimedAt?: string;
}

/**
 * Claim the store's path for this run before anything else is written. Refuses (PathInUseError)
 * when the path holds anything: an object this run did not write is never adopted. A retried
 * step with the same nonce finds its own claim and returns it (idempotent).
 */
export async function claimRunPath(store: EvidenceStore, options: ClaimRunPathOptions): Promise<ClaimedRun> {
  const nonce = options.nonce ?? newClaimNonce();
  if (!/^[0-9a-f]{32,128}$/.test(nonce)) throw new AksEvidenceError('ERR_CLAIM', 'a claim nonce is 32 to 128 lower-case hex digits');
  const existing = await readClaimIfAny(store);
  if (existing) {
    if (existing.claim.nonce === nonce && existing.claim.runId === options.runId) return existing;
    throw new PathInUseError(store.location, [CLAIM_PATH], 'another run has claimed this path');
  }
  const found: string[] = [];
  for await (const item of store.list()) {
    found.push(item.path);
    if (found.length > 20) break;
  }
  if (found.length > 0) throw new PathInUseError(store.location, found, 'the path already holds objects this run did not write');
  const claim: RunClaim = {
    schemaVersion: 1,
    kind: 'aks-evidence-run-claim',
    runId: options.runId,
    caseId: options.caseId,
    nonce,
    claimedAt: options.claimedAt ?? toRfc3339((options.clock ?? systemClock)()),
    claimedBy: options.collector,
    location: store.location,
    ...(options.previousAttempt ? { previousAttempt: options.previousAttempt } : {}),
  };
  const text = JSON.stringify(claim, null, 2) + '\n';
  try {
    const written = await store.writeArtifact(CLAIM_PATH, text, { contentType: 'application/json', metadata: { kind: 'run-claim', runId: options.runId, caseId: options.caseId } });
    await store.protect?.(CLAIM_PATH);
    return { claim, sha256: written.sha256 };
  } catch (error) {
    if (!(error instanceof ArtifactConflictError)) throw error;
    // Lost a race: ours only if the winner is the same run (a duplicate execution of the same step).
    const winner = await readClaimIfAny(store);
    if (winner && winner.claim.nonce === nonce && winner.claim.runId === options.runId) return winner;
    throw new PathInUseError(store.location, [CLAIM_PATH], 'another run claimed this path at the same moment');
  }
}

/** The run's claim, or RunNotClaimedError. */
export async function readRunClaim(store: EvidenceStore): Promise<ClaimedRun> {
  const claimed = await readClaimIfAny(store);
  if (!claimed) throw new RunNotClaimedError(store.location);
  return claimed;
}

/** The run's claim when there is one (validated), else undefined. */
export async function readClaimIfAny(store: EvidenceStore): Promise<ClaimedRun | undefined> {
  if (!(await store.stat(CLAIM_PATH))) return undefined;
  const bytes = await readSmallArtifact(store, CLAIM_PATH, 64 * 1024);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new AksEvidenceError('ERR_CLAIM', `${CLAIM_PATH} in ${store.location} is not valid JSON`, { cause: error });
  }
  const claim = value as Partial<RunClaim>;
  if (claim?.kind !== 'aks-evidence-run-claim' || typeof claim.runId !== 'string' || typeof claim.nonce !== 'string' || !/^[0-9a-f]{32,128}$/.test(claim.nonce)) {
    throw new AksEvidenceError('ERR_CLAIM', `${CLAIM_PATH} in ${store.location} is not a run claim`);
  }
  return { claim: value as RunClaim, sha256: sha256Hex(bytes) };
}
