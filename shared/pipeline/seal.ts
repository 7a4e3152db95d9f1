import { artifactSha256 } from '../evidence/hash.js';
import { readManifestWithHash, writeManifest } from '../evidence/manifest.js';
import type {
  ArtifactRef,
  CollectionRequestRecord,
  CollectorAction,
  CollectorIdentity,
  EvidenceStore,
  Gap,
  Manifest,
  SourceStatus,
  SourceSummary,
} from '../evidence/types.js';
import { MANIFEST_PATH } from '../evidence/types.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { readSummary } from './collectTask.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import { isPlannable } from './plan.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTaskResult, SealResult } from './types.js';
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
  /** Called after the manifest is written (e.g. the custody log's manifest-sealed step). */
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

const STATUS_RANK: Record<SourceStatus, number> = { complete: 0, skipped: 1, partial: 2, failed: 3 };

/**
 * Fan-in: gather every task's summary, name every gap, and write the manifest once.
 * Runs only after every collect task has finished. Idempotent: a second call on a sealed
 * bundle returns the existing seal without writing anything.
 */
export async function sealRun(ctx: SealContext): Promise<SealResult & { manifest: Manifest }> {
  const clock = ctx.clock ?? systemClock;
  if (await ctx.store.stat(MANIFEST_PATH)) {
    const { manifest, sha256 } = await readManifestWithHash(ctx.store);
    return { ...summarize(manifest, ctx.store.location, sha256), manifest };
  }

  const sources: Record<string, SourceSummary> = {};
  const artifacts: ArtifactRef[] = [];
  const actions: CollectorAction[] = [];
  const coverage: Record<string, unknown> = {};
  const referenced = new Set<string>();

  for (const result of ctx.results) {
    for (const a of result.artifacts) {
      artifacts.push(a);
      referenced.add(a.path);
    }
    const summaryRef = result.artifacts.find((a) => a.path.endsWith('.summary.json'));
    const summary = summaryRef ? await readSummary(ctx.store, summaryRef.path) : undefined;
    const s = (sources[result.source] ??= {
      status: 'complete',
      records: 0,
      rawObjects: 0,
      gaps: [],
      artifacts: [],
      apiRequests: 0,
    });
    if (STATUS_RANK[result.status] > STATUS_RANK[s.status]) s.status = result.status;
    s.records += result.records;
    s.rawObjects += result.rawObjects;
    s.apiRequests = (s.apiRequests ?? 0) + result.apiRequests;
    appendAll(s.artifacts, result.artifacts.map((a) => a.path));
    appendAll(s.gaps, summary?.gaps ?? result.gapsPreview);
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

  // A requested source with no result at all is a failed source, named as such.
  for (const name of ctx.request.sources) {
    if (!sources[name] && !isPlannable(name, ctx.facts, ctx.registry ?? SOURCES)) {
      // Planned only when the cluster facts allow it (e.g. kube-audit exported): say why not.
      const why = ctx.facts.gaps.find((g) => g.source === name);
      sources[name] = {
        status: 'skipped',
        records: 0,
        rawObjects: 0,
        gaps: [{ source: name, reason: why?.reason ?? 'not-enabled', detail: why?.detail ?? `${name} was not collected: the cluster facts do not allow it (see the run-level gaps)` }],
        artifacts: [],
      };
    }
    if (!sources[name]) {
      sources[name] = {
        status: 'failed',
        records: 0,
        rawObjects: 0,
        gaps: [{ source: name, reason: 'error', detail: 'no collect task for this source returned a result' }],
        artifacts: [],
      };
    }
  }

  // Anything else already in the bundle (earlier attempts, custody records) is listed too:
  // the manifest accounts for every byte the run wrote.
  for await (const info of ctx.store.list()) {
    if (referenced.has(info.path) || info.path === MANIFEST_PATH || info.path.startsWith('manifest.')) continue;
    if (info.path.startsWith('ingestion/')) continue;
    const kind = info.path.startsWith('custody/') ? 'custody' : 'other';
    artifacts.push({
      path: info.path,
      source: kind === 'custody' ? 'custody' : sourceOfPath(info.path),
      kind,
      sha256: info.recordedSha256 ?? (await artifactSha256(ctx.store, info.path)),
      bytes: info.bytes,
      records: 0,
      contentType: info.path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      ...(info.path.endsWith('.gz') ? { contentEncoding: 'gzip' as const } : {}),
    });
  }
  artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  actions.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  const runGaps: Gap[] = [...ctx.facts.gaps];
  for (const [name, s] of Object.entries(sources)) {
    if (s.status === 'failed') runGaps.push({ source: name, reason: 'error', detail: `source ${name} failed; see sources.${name}.gaps` });
  }

  const manifest: Manifest = {
    schemaVersion: 1,
    runId: ctx.runId,
    caseId: ctx.caseId,
    cluster: ctx.facts.cluster,
    collector: ctx.collector,
    request: ctx.request,
    startedAt: ctx.startedAt,
    endedAt: toRfc3339(clock()),
    artifacts,
    sources,
    gaps: runGaps,
    actions,
    protection: await ctx.store.protection(),
    clusterFacts: clusterFactsRecord(ctx.facts),
    ...(Object.keys(coverage).length ? { coverage } : {}),
  };
  // The run's report, written before the manifest so the manifest lists and seals it (why: shared/report/seal.ts).
  await ctx.beforeManifest?.(ctx.store, manifest);
  const { sha256 } = await writeManifest(ctx.store, manifest);
  const result = summarize(manifest, ctx.store.location, sha256);
  await ctx.onSealed?.(result);
  return { ...result, manifest };
}

function summarize(manifest: Manifest, location: string, manifestSha256: string): SealResult {
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
    // The report this seal wrote (an earlier attempt's, not in its manifest, is listed as source 'other').
    ...reportOf(manifest),
  };
}

function reportOf(manifest: Manifest): { reportPath?: string } {
  const report = manifest.artifacts.find((a) => a.source === 'report');
  return report ? { reportPath: report.path } : {};
}

function clusterFactsRecord(facts: ClusterFacts): Record<string, unknown> {
  const { cluster: _cluster, gaps: _gaps, ...rest } = facts;
  return rest;
}

function sourceOfPath(path: string): string {
  const m = /^sources\/([^/]+)\//.exec(path);
  return m?.[1] ?? 'other';
}
