import { describeError } from '../util/errors.js';
import { CLAIM_PATH, readClaimIfAny, type ClaimedRun } from './claim.js';
import { CUSTODY_PREFIX, CUSTODY_RECORD, custodyRecordPath, readCustodyRecord, type StoredCustodyRecord } from './custody.js';
import type { EvidenceStore } from './types.js';

/** What walking a run's custody chain found. */
export interface CustodyChainWalk {
  claim?: ClaimedRun;
  /** Records that could be read, in number order. */
  records: StoredCustodyRecord[];
  /** The newest record (the chain's head), when there is one. */
  head?: { seq: number; sha256: string; step: string; at: string };
  /** Every broken link, missing, foreign or unreadable record, one line each. */
  problems: string[];
}

/**
 * Walk the custody chain from the claim: record 1 must name the claim's hash, every record N
 * the hash of record N-1, every number from 1 to the highest must be there, every record must
 * say its own number and the run's id, and custody/ may hold nothing else. An edited record
 * breaks the next record's link; a deleted one leaves a hole; an inserted or reordered one
 * breaks its own link and its successor's.
 */
export async function walkCustodyChain(store: EvidenceStore, options: { abortSignal?: AbortSignal } = {}): Promise<CustodyChainWalk> {
  const problems: string[] = [];
  let claim: ClaimedRun | undefined;
  try {
    claim = await readClaimIfAny(store);
  } catch (error) {
    problems.push(`${CLAIM_PATH} is unreadable: ${describeError(error)}`);
  }
  const numbers = new Map<number, string>();
  for await (const item of store.list(CUSTODY_PREFIX)) {
    if (item.path === CLAIM_PATH) continue;
    const m = CUSTODY_RECORD.exec(item.path);
    if (!m?.[1]) {
      problems.push(`${item.path} is not a custody record of this chain (custody/ holds only the claim and custody/NNNN.json): inserted?`);
      continue;
    }
    const seq = Number(m[1]);
    if (item.path !== custodyRecordPath(seq)) problems.push(`${item.path} is not a well-formed custody record name: inserted?`);
    else numbers.set(seq, item.path);
  }
  if (!claim && numbers.size > 0) problems.push(`${CLAIM_PATH} is missing: the custody chain has no root (deleted?)`);

  const records: StoredCustodyRecord[] = [];
  const max = numbers.size ? Math.max(...numbers.keys()) : 0;
  let prevSha: string | undefined = claim?.sha256;
  let prevName = CLAIM_PATH;
  for (let seq = 1; seq <= max; seq++) {
    const path = numbers.get(seq);
    if (!path) {
      problems.push(`custody record ${custodyRecordPath(seq)} is missing: the chain has a hole (deleted?)`);
      prevSha = undefined;
      prevName = custodyRecordPath(seq);
      continue;
    }
    let stored: StoredCustodyRecord;
    try {
      stored = await readCustodyRecord(store, path, options);
    } catch (error) {
      problems.push(`${path} is unreadable: ${describeError(error)}`);
      prevSha = undefined;
      prevName = path;
      continue;
    }
    const r = stored.record;
    if (r.seq !== seq) problems.push(`${path} says it is record ${String(r.seq)}: renamed or reordered`);
    if (claim && r.runId !== claim.claim.runId) problems.push(`${path} belongs to run ${String(r.runId)}, not ${claim.claim.runId}: inserted from another run?`);
    if (typeof r.prev !== 'string') problems.push(`${path} carries no prev hash: not a record of this chain (inserted?)`);
    else if (prevSha !== undefined && r.prev !== prevSha) {
      problems.push(`${path} does not follow ${prevName}: it names prev ${r.prev}, but ${prevName} hashes to ${prevSha} (a record was edited, inserted or reordered)`);
    }
    records.push(stored);
    prevSha = stored.sha256;
    prevName = path;
  }
  const last = records.at(-1);
  return {
    ...(claim ? { claim } : {}),
    records,
    ...(last ? { head: { seq: last.record.seq, sha256: last.sha256, step: last.record.step, at: last.record.at } } : {}),
    problems,
  };
}
