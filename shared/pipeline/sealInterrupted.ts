import type { ClusterFacts } from '../cluster/facts.js';
import { readRunClaim } from '../evidence/claim.js';
import { CustodyLog, readCustodyLog } from '../evidence/custody.js';
import type { CollectionRequestRecord, CollectorIdentity, EvidenceStore, Manifest } from '../evidence/types.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import { AksEvidenceError } from '../util/errors.js';
import type { Clock } from '../util/time.js';
import { isOwnSummary, readSummaryWithHash, toTaskResult } from './collectTask.js';
import { taskLabel } from './collectRun.js';
import { findOwnSeal, sealRun } from './seal.js';
import type { CollectTaskResult, SealResult } from './types.js';

export interface SealInterruptedOptions {
  store: EvidenceStore;
  /** Who seals now (it may not be who collected). */
  collector: CollectorIdentity;
  /** Why the run is being sealed this way, e.g. "the collecting process died". */
  reason: string;
  clock?: Clock;
  registry?: SourceRegistry;
}

export type SealInterruptedResult =
  { kind: 'already-sealed'; sealed: SealResult & { manifest: Manifest } } | { kind: 'sealed'; sealed: SealResult & { manifest: Manifest }; custody: CustodyLog };

/**
 * `aks-evidence seal <bundle>`: seal what an interrupted run had published, as an interrupted
 * run. What the run asked for and planned comes from its own `collection-started` custody
 * record; what finished is every task summary that carries the run's claim nonce; every
 * planned task without one is named in the manifest as never finished, and custody records
 * the interruption before the seal. A run whose custody chain already seals its manifest is
 * returned as it is; nothing is sealed silently.
 */
export async function sealInterruptedRun(options: SealInterruptedOptions): Promise<SealInterruptedResult> {
  const { store } = options;
  const claimed = await readRunClaim(store);
  const own = await findOwnSeal(store);
  if (own) {
    const { manifest, manifestSha256, chainHead, sealRecord } = own;
    return {
      kind: 'already-sealed',
      sealed: {
        runId: manifest.runId,
        caseId: manifest.caseId,
        location: store.location,
        manifestPath: 'manifest.json',
        manifestSha256,
        records: Object.fromEntries(Object.entries(manifest.sources).map(([k, s]) => [k, s.records])),
        gaps: Object.fromEntries(Object.entries(manifest.sources).map(([k, s]) => [k, s.gaps.length])),
        artifactCount: manifest.artifacts.length,
        chainHead: chainHead.sha256,
        sealRecordSha256: sealRecord.sha256,
        sealedAt: manifest.endedAt,
        ...(manifest.interrupted ? { interrupted: true } : {}),
        manifest,
      },
    };
  }
  const records = await readCustodyLog(store);
  const started = records.find((r) => r.step === 'collection-started');
  if (!started) {
    throw new AksEvidenceError(
      'ERR_NOT_SEALABLE',
      `${store.location} has no collection-started custody record: what the run asked for is unknown, so it cannot be sealed as that run`,
    );
  }
  const details = started.details as { request?: CollectionRequestRecord; facts?: ClusterFacts; tasks?: string[]; startedAt?: string };
  if (!details.request || !details.facts)
    throw new AksEvidenceError('ERR_NOT_SEALABLE', `the collection-started record of ${store.location} does not name the request and the cluster facts`);

  // Every finished task: the first summary per task that is provably this run's.
  const byTask = new Map<string, CollectTaskResult>();
  for await (const item of store.list('sources/')) {
    if (!item.path.endsWith('.summary.json')) continue;
    let read;
    try {
      read = await readSummaryWithHash(store, item.path);
    } catch {
      continue; // unreadable: not provably this run's; sealing lists it as unattributed
    }
    if (!isOwnSummary(read.summary, claimed.claim.nonce, claimed.claim.runId)) continue;
    const label = taskLabel({ source: read.summary.source, ...(read.summary.shard ? { shard: read.summary.shard } : {}) });
    if (byTask.has(label)) continue;
    byTask.set(label, toTaskResult(read.summary, item.path, read.sha256, read.bytes));
  }
  const planned = details.tasks ?? [...byTask.keys()];
  const unfinishedTasks = planned
    .filter((label) => !byTask.has(label))
    .map((label) => {
      const [source, shard] = label.split(' ');
      return { source: source ?? label, ...(shard ? { shard } : {}), detail: 'never finished: no summary of this task was published before the interruption' };
    });

  const custody = new CustodyLog(store, {
    runId: claimed.claim.runId,
    caseId: claimed.claim.caseId,
    collector: options.collector,
    claim: claimed,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const sealed = await sealRun({
    store,
    runId: claimed.claim.runId,
    caseId: claimed.claim.caseId,
    request: details.request,
    facts: details.facts,
    results: [...byTask.values()],
    collector: options.collector,
    startedAt: details.startedAt ?? started.at,
    claim: claimed,
    custody,
    interrupted: { reason: options.reason, unfinishedTasks },
    registry: options.registry ?? SOURCES,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { kind: 'sealed', sealed, custody };
}
