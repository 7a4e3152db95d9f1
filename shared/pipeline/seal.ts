import { readRunClaim, type ClaimedRun, CLAIM_PATH } from '../evidence/claim.js';
import { CustodyLog, readCustodyLog, type ChainHead } from '../evidence/custody.js';
import { hashStream, sha256Hex } from '../evidence/hash.js';
import { readSmallArtifact, writeManifest } from '../evidence/manifest.js';
import type {
  ArtifactRef,
  CollectionRequestRecord,
  CollectorAction,
  CollectorIdentity,
  EvidenceStore,
  Gap,
  InterruptionRecord,
  Manifest,
  SourceSummary,
  UnattributedFile,
  ValueHandling,
} from '../evidence/types.js';
import { MANIFEST_PATH } from '../evidence/types.js';
import { AksEvidenceError, ArtifactConflictError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { redactSecrets } from '../util/redact.js';
import { isOwnSummary, readSummaryWithHash, type CollectTaskSummary } from './collectTask.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import { isPlannable } from './plan.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTaskResult, SealResult } from './types.js';
import { sourceStatus, type TaskStatusPart } from './status.js';
import { appendAll } from '../util/arrays.js';

export interface SealContext {
  store: EvidenceStore;
  runId: string;
  caseId: string;
  request: CollectionRequestRecord;
  facts: ClusterFacts;
  results: CollectTaskResult[];
  collector: CollectorIdentity;
  startedAt: string;
  clock?: Clock;
  /**
   * The manifest's end time (UTC RFC 3339). The orchestrator passes its own deterministic
   * time, so a retried seal activity rebuilds the same bytes. Default: now.
   */
  endedAt?: string;
  /** The run's claim (read from the store when absent). */
  claim?: ClaimedRun;
  /** The custody log to append to (one is opened on the store when absent). */
  custody?: CustodyLog;
  /** Seal as an interrupted run: custody records the interruption, the manifest names what never finished. */
  interrupted?: { reason: string; unfinishedTasks: InterruptionRecord['unfinishedTasks'] };
  /** Called after the manifest and its seal record are written. */
  onSealed?: (result: SealResult) => Promise<void>;
  /**
   * Called with the manifest about to be written, every other field final: it may write
   * artifacts and list them in it. The hosts pass the report writer (shared/report/seal.ts),
   * which is a layer above the pipeline; it handles its own failures (a gap, never a failed seal).
   */
  beforeManifest?: (store: EvidenceStore, manifest: Manifest) => Promise<void>;
  /** The sources (default SOURCES). */
  registry?: SourceRegistry;
}

/** A manifest.json is in the run's path that the run's custody chain does not vouch for: refused, never adopted. */
export class ManifestNotOursError extends AksEvidenceError {
  override name = 'ManifestNotOursError';
  constructor(location: string, detail: string) {
    super(
      'ERR_MANIFEST_NOT_OURS',
      `refusing to adopt ${MANIFEST_PATH} in ${location}: ${detail}. It was not written by this run's sealing; investigate it (aks-evidence verify) — nothing was overwritten`,
    );
  }
}

/**
 * The run's seal as its custody chain records it: the `manifest-sealed` record whose
 * manifestSha256 is the hash of the manifest.json stored now. undefined when there is none.
 */
export async function findOwnSeal(
  store: EvidenceStore,
): Promise<{ manifest: Manifest; manifestSha256: string; sealRecord: { seq: number; sha256: string }; chainHead: ChainHead } | undefined> {
  if (!(await store.stat(MANIFEST_PATH))) return undefined;
  const bytes = await readSmallArtifact(store, MANIFEST_PATH, 256 * 1024 * 1024);
  const manifestSha256 = sha256Hex(bytes);
  for (const record of await readCustodyLog(store)) {
    if (record.step !== 'manifest-sealed' || record.details.manifestSha256 !== manifestSha256) continue;
    const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
    const head = manifest.custody?.chainHead ?? { seq: 0, sha256: '' };
    return { manifest, manifestSha256, sealRecord: { seq: record.seq, sha256: record.sha256 }, chainHead: head };
  }
  return undefined;
}

/**
 * A manifest.json without its seal record that this run's own sealing wrote: it names the run's
 * claim (hash and nonce) and was built on the chain exactly as it stands now — nothing was
 * recorded after it, so it is the last thing the run did. A manifest planted before the run
 * cannot name a claim that did not exist; one that fails any check stays refused
 * (ManifestNotOursError when sealing tries to write its own).
 */
async function findOwnUnsealedManifest(
  store: EvidenceStore,
  claimed: ClaimedRun,
  /** The chain head now: read only when a manifest naming this run's claim is there (it lists and reads the chain). */
  head: () => Promise<ChainHead>,
): Promise<{ manifest: Manifest; manifestSha256: string; chainHead: ChainHead } | undefined> {
  if (!(await store.stat(MANIFEST_PATH))) return undefined;
  const bytes = await readSmallArtifact(store, MANIFEST_PATH, 256 * 1024 * 1024);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch {
    return undefined;
  }
  const custody = manifest.custody;
  if (manifest.runId !== claimed.claim.runId || !custody) return undefined;
  if (custody.claimSha256 !== claimed.sha256 || custody.nonce !== claimed.claim.nonce) return undefined;
  const now = await head();
  if (custody.chainHead?.seq !== now.seq || custody.chainHead.sha256 !== now.sha256) return undefined;
  return { manifest, manifestSha256: sha256Hex(bytes), chainHead: custody.chainHead };
}

/**
 * Fan-in: gather every task's summary, name every gap, and write the manifest once, then the
 * `manifest-sealed` custody record carrying its hash. Runs only after every collect task has
 * finished (or, interrupted, with what had finished).
 *
 * A run adopts nothing it did not write: a summary counts only when it carries the run's
 * claim nonce and hashes to what its task reported; a manifest already in the path is
 * returned only when the run's custody chain holds a seal record naming its hash (a retried
 * seal), and is otherwise refused (ManifestNotOursError) unless this seal rebuilds it byte for
 * byte. Files no finished task accounts for are listed as unattributed, with their content hash.
 */
export async function sealRun(ctx: SealContext): Promise<SealResult & { manifest: Manifest }> {
  const clock = ctx.clock ?? systemClock;
  const claimed = ctx.claim ?? (await readRunClaim(ctx.store));
  if (claimed.claim.runId !== ctx.runId) throw new ManifestNotOursError(ctx.store.location, `the path is claimed by run ${claimed.claim.runId}, not ${ctx.runId}`);
  const custody = ctx.custody ?? new CustodyLog(ctx.store, { runId: ctx.runId, caseId: ctx.caseId, collector: ctx.collector, claim: claimed, clock });

  const existing = await findOwnSeal(ctx.store);
  if (existing) {
    return { ...summarize(existing.manifest, ctx.store.location, existing.manifestSha256, existing.chainHead, existing.sealRecord), manifest: existing.manifest };
  }
  const unsealed = await findOwnUnsealedManifest(ctx.store, claimed, () => custody.currentHead());
  if (unsealed) {
    // This run's sealing wrote the manifest and stopped before its seal record (a crash, a killed
    // process): record the seal of that manifest now, exactly as the first attempt would have.
    const sealRecord = await custody.record('manifest-sealed', {
      manifestSha256: unsealed.manifestSha256,
      chainHead: unsealed.chainHead,
      artifacts: unsealed.manifest.artifacts.length,
      interrupted: unsealed.manifest.interrupted !== undefined,
      recordedLate: 'the sealing that wrote this manifest stopped before its seal record',
    });
    const result = summarize(unsealed.manifest, ctx.store.location, unsealed.manifestSha256, unsealed.chainHead, { seq: sealRecord.seq, sha256: sealRecord.sha256 });
    await ctx.onSealed?.(result);
    return { ...result, manifest: unsealed.manifest };
  }

  const sources: Record<string, SourceSummary> = {};
  const artifacts: ArtifactRef[] = [];
  const actions: CollectorAction[] = [];
  const coverage: Record<string, unknown> = {};
  const referenced = new Set<string>();
  const parts = new Map<string, TaskStatusPart[]>();
  const prerequisiteGaps: Gap[] = [];

  for (const result of ctx.results) {
    for (const a of result.artifacts) {
      artifacts.push(a);
      referenced.add(a.path);
    }
    const summaryRef = result.artifacts.find((a) => a.path.endsWith('.summary.json'));
    const summary = summaryRef ? await readVouchedSummary(ctx.store, summaryRef, claimed.claim.nonce, ctx.runId) : undefined;
    const s = (sources[result.source] ??= {
      status: 'complete',
      records: 0,
      rawObjects: 0,
      gaps: [],
      artifacts: [],
      apiRequests: 0,
    });
    const list = parts.get(result.source) ?? [];
    list.push({ status: result.status, ...(result.failedBecause ? { failedBecause: result.failedBecause } : {}), records: result.records, gapCount: result.gapCount });
    parts.set(result.source, list);
    if (result.resumeCount) s.resumes = (s.resumes ?? 0) + result.resumeCount;
    s.records += result.records;
    s.rawObjects += result.rawObjects;
    s.apiRequests = (s.apiRequests ?? 0) + result.apiRequests;
    appendAll(
      s.artifacts,
      result.artifacts.map((a) => a.path),
    );
    appendAll(s.gaps, summary?.gaps ?? result.gapsPreview);
    for (const g of summary?.gaps ?? result.gapsPreview) if (g.prerequisite !== undefined) prerequisiteGaps.push(g);
    if (!s.startedAt || result.startedAt < s.startedAt) s.startedAt = result.startedAt;
    if (!s.endedAt || result.endedAt > s.endedAt) s.endedAt = result.endedAt;
    if (summary) {
      appendAll(actions, summary.actions);
      if (summary.coverage.length) {
        const list = (coverage[result.source] ??= []) as unknown[];
        appendAll(list, summary.coverage);
      }
    }
  }

  for (const [name, list] of parts) {
    const s = sources[name];
    if (s) s.status = sourceStatus(list).status;
  }

  // A requested source with no result at all is a failed source, named as such.
  for (const name of ctx.request.sources) {
    if (!sources[name] && !isPlannable(name, ctx.facts, ctx.registry ?? SOURCES)) {
      // Planned only when the cluster facts allow it (e.g. kube-audit exported): say why not.
      const why = ctx.facts.gaps.find((g) => g.source === name);
      sources[name] = {
        status: 'skipped',
        records: 0,
        rawObjects: 0,
        gaps: [
          { source: name, reason: why?.reason ?? 'not-enabled', detail: why?.detail ?? `${name} was not collected: the cluster facts do not allow it (see the run-level gaps)` },
        ],
        artifacts: [],
      };
    }
    if (!sources[name]) {
      const unfinished = ctx.interrupted?.unfinishedTasks.some((t) => t.source === name);
      sources[name] = {
        status: 'failed',
        records: 0,
        rawObjects: 0,
        gaps: [
          { source: name, reason: 'error', detail: unfinished ? 'never finished: the collection was interrupted first' : 'no collect task for this source returned a result' },
        ],
        artifacts: [],
      };
    }
  }

  // Anything else in the path (an interrupted task attempt's artifacts, or an object this run
  // did not write) is named with the hash of its content, never adopted as evidence.
  const unattributed: UnattributedFile[] = [];
  for await (const info of ctx.store.list()) {
    if (referenced.has(info.path) || info.path === CLAIM_PATH || info.path.startsWith('manifest.') || info.path === MANIFEST_PATH) continue;
    if (info.path.startsWith('custody/') || info.path.startsWith('ingestion/')) continue;
    const hashed = await hashStream(await ctx.store.read(info.path));
    unattributed.push({
      path: info.path,
      sha256: hashed.sha256,
      bytes: hashed.bytes,
      reason: 'no finished task of this run accounts for it: an interrupted task attempt, or an object this run did not write',
    });
  }
  artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  actions.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  // A failed prerequisite first (after an interruption): it explains the failed sources that depend on it.
  const runGaps: Gap[] = [...prerequisiteRunGaps(prerequisiteGaps), ...ctx.facts.gaps.map((g) => ({ ...g, detail: redactSecrets(g.detail) }))];
  let interrupted: InterruptionRecord | undefined;
  if (ctx.interrupted) {
    const before = await readCustodyLog(ctx.store);
    const lastCustodyStep = before.at(-1)?.step ?? 'claim';
    const at = toRfc3339(clock());
    interrupted = { reason: ctx.interrupted.reason, at, lastCustodyStep, unfinishedTasks: ctx.interrupted.unfinishedTasks };
    await custody.record('collection-interrupted', interrupted);
    runGaps.unshift({
      source: 'run',
      reason: 'error',
      detail: `collection interrupted (${ctx.interrupted.reason}) after ${lastCustodyStep}; ${ctx.interrupted.unfinishedTasks.length} task(s) never finished; sealed with what had been published`,
    });
  }
  for (const [name, s] of Object.entries(sources)) {
    if (s.status !== 'failed' || runGaps.some((g) => g.source === name && g.prerequisite !== undefined)) continue;
    runGaps.push({ source: name, reason: 'error', detail: `source ${name} failed; see sources.${name}.gaps` });
  }

  const chainHead = await custody.currentHead();
  const manifest: Manifest = {
    schemaVersion: 1,
    runId: ctx.runId,
    caseId: ctx.caseId,
    cluster: ctx.facts.cluster,
    collector: ctx.collector,
    request: ctx.request,
    startedAt: ctx.startedAt,
    endedAt: ctx.endedAt ?? toRfc3339(clock()),
    artifacts,
    sources,
    gaps: runGaps,
    actions,
    protection: await ctx.store.protection(),
    clusterFacts: clusterFactsRecord(ctx.facts),
    ...(Object.keys(coverage).length ? { coverage } : {}),
    custody: { claimSha256: claimed.sha256, nonce: claimed.claim.nonce, chainHead },
    ...(interrupted ? { interrupted } : {}),
    ...(claimed.claim.previousAttempt ? { previousAttempt: claimed.claim.previousAttempt } : {}),
    ...(unattributed.length ? { unattributed } : {}),
    valueHandling: valueHandlingOf(ctx.request),
  };
  // The run's report, written before the manifest so the manifest lists and seals it (why: shared/report/seal.ts).
  await ctx.beforeManifest?.(ctx.store, manifest);
  let sha256: string;
  try {
    // Identical bytes already there (a retried seal that rebuilt them) are accepted after the store compared content.
    ({ sha256 } = await writeManifest(ctx.store, manifest));
  } catch (error) {
    if (error instanceof ArtifactConflictError) {
      throw new ManifestNotOursError(ctx.store.location, `no manifest-sealed record in the run's custody chain names its sha256 ${error.existingSha256}`);
    }
    throw error;
  }
  const sealRecord = await custody.record('manifest-sealed', {
    manifestSha256: sha256,
    chainHead,
    artifacts: manifest.artifacts.length,
    interrupted: interrupted !== undefined,
  });
  const result = summarize(manifest, ctx.store.location, sha256, chainHead, { seq: sealRecord.seq, sha256: sealRecord.sha256 });
  await ctx.onSealed?.(result);
  return { ...result, manifest };
}

/** A task summary as sealing uses it: it must hash to what its task reported and carry the run's nonce. */
async function readVouchedSummary(store: EvidenceStore, ref: ArtifactRef, nonce: string, runId: string): Promise<CollectTaskSummary> {
  const { summary, sha256 } = await readSummaryWithHash(store, ref.path);
  if (sha256 !== ref.sha256) {
    throw new AksEvidenceError(
      'ERR_SUMMARY_CHANGED',
      `task summary ${ref.path} in ${store.location} hashes to ${sha256}, not the ${ref.sha256} its task reported: it changed after it was written; refusing to seal over it`,
    );
  }
  if (!isOwnSummary(summary, nonce, runId)) {
    throw new AksEvidenceError(
      'ERR_SUMMARY_NOT_OURS',
      `task summary ${ref.path} in ${store.location} does not carry this run's claim nonce: refusing to seal it as this run's evidence`,
    );
  }
  return summary;
}

/** What the collect tasks did with secret-bearing values, from the request they all ran with. */
export function valueHandlingOf(request: CollectionRequestRecord): ValueHandling {
  const kept = request.envValues === 'keep' ? 'kept-in-raw-artifacts' : 'sha256';
  return { secrets: 'metadata-only', envValues: kept, serializedAnnotations: kept, rows: 'redacted' };
}

function summarize(manifest: Manifest, location: string, manifestSha256: string, chainHead: ChainHead, sealRecord: { seq: number; sha256: string }): SealResult {
  const records: Record<string, number> = {};
  const gaps: Record<string, number> = {};
  for (const [name, s] of Object.entries(manifest.sources)) {
    records[name] = s.records;
    gaps[name] = s.gaps.length;
  }
  return {
    runId: manifest.runId,
    caseId: manifest.caseId,
    location,
    manifestPath: MANIFEST_PATH,
    manifestSha256,
    records,
    gaps,
    artifactCount: manifest.artifacts.length,
    chainHead: chainHead.sha256,
    sealRecordSha256: sealRecord.sha256,
    sealedAt: manifest.endedAt,
    ...(manifest.interrupted ? { interrupted: true } : {}),
    // The report this seal wrote (an earlier attempt's, not in its manifest, is listed as source 'other').
    ...reportOf(manifest),
  };
}

/**
 * One run-level gap per source and failed prerequisite (shards of one source share their pod
 * list: named once), saying what failed and that what it would have listed was not collected.
 */
function prerequisiteRunGaps(gaps: readonly Gap[]): Gap[] {
  const seen = new Map<string, Gap>();
  for (const g of gaps) {
    const key = `${g.source}|${g.prerequisite}|${g.resource ?? ''}|${g.namespace ?? ''}`;
    if (seen.has(key)) continue;
    seen.set(key, {
      ...g,
      detail: `prerequisite failed: the ${g.prerequisite}${g.resource ? ` (${g.resource})` : ''} could not be read: ${g.detail}; ${g.source} failed: what it would have listed was not collected`,
    });
  }
  return [...seen.values()];
}

function reportOf(manifest: Manifest): { reportPath?: string } {
  const report = manifest.artifacts.find((a) => a.source === 'report');
  return report ? { reportPath: report.path } : {};
}

function clusterFactsRecord(facts: ClusterFacts): Record<string, unknown> {
  const { cluster: _cluster, gaps: _gaps, ...rest } = facts;
  return rest;
}
