import type { CustodyLog } from '../evidence/custody.js';
import {
  incrementDir,
  incrementManifestPath,
  writeIncrementManifest,
  type IncrementCounts,
  type IncrementGap,
  type IncrementManifest,
  type LostSegment,
} from '../evidence/increment.js';
import { createNdjsonArtifact, NDJSON_CONTENT_TYPE, type NdjsonArtifactWriter } from '../evidence/ndjson.js';
import type { ArtifactRef, EvidenceStore } from '../evidence/types.js';
import { redactSecrets } from '../util/redact.js';
import { toRfc3339, type Clock } from '../util/time.js';

/**
 * One segment of a preservation window being written: increments/<seq>/ with one write-once,
 * hashed NDJSON artifact per kind of record (log rows, event rows and raw events, change rows and
 * the objects before and after), opened when the first record arrives. Sealing waits for the
 * work the segment started (log fetches), commits the artifacts, writes the segment's manifest
 * part and appends its `increment-sealed` custody record with the manifest's hash.
 */

/** The artifacts a segment can hold: file name, source, kind, table. */
const ARTIFACTS = {
  logRows: { file: 'containerlogs.rows.ndjson.gz', source: 'containerlogs', kind: 'rows', table: 'kubelogs_CL' },
  eventRows: { file: 'events.rows.ndjson.gz', source: 'events', kind: 'rows', table: 'kubeevents_CL' },
  eventsRaw: { file: 'events.raw.ndjson.gz', source: 'events', kind: 'raw' },
  changeRows: { file: 'changes.rows.ndjson.gz', source: 'preservation', kind: 'rows', table: 'kubechanges_CL' },
  changesRaw: { file: 'changes.raw.ndjson.gz', source: 'preservation', kind: 'raw' },
} as const satisfies Record<string, { file: string; source: string; kind: 'rows' | 'raw'; table?: string }>;

export type SegmentArtifact = keyof typeof ARTIFACTS;

/** What sealing a segment produced: small, for progress and orchestration status. */
export interface SealedSegment {
  seq: number;
  manifestPath: string;
  manifestSha256: string;
  from: string;
  to: string;
  counts: IncrementCounts;
  gaps: number;
  artifacts: number;
  final?: string;
}

export interface SegmentInit {
  store: EvidenceStore;
  runId: string;
  caseId: string;
  seq: number;
  window: IncrementManifest['window'];
  /** UTC RFC 3339: when the segment starts (the watch position it resumes at). */
  from: string;
  cursorFrom: Record<string, string>;
  clock: Clock;
}

export class Segment {
  readonly seq: number;
  readonly from: string;
  readonly counts: IncrementCounts = { logLines: 0, logStreams: 0, events: 0, changes: 0, apiRequests: 0 };
  readonly gaps: IncrementGap[] = [];
  private readonly writers = new Map<SegmentArtifact, Promise<NdjsonArtifactWriter>>();
  /** Per artifact, the chain of writes: an NDJSON writer takes one write at a time. */
  private readonly chains = new Map<SegmentArtifact, Promise<void>>();
  private readonly tasks = new Set<Promise<unknown>>();
  private failure: unknown;
  private sealed = false;

  constructor(private readonly init: SegmentInit) {
    this.seq = init.seq;
    this.from = init.from;
  }

  /** Rows written so far (log lines, events, changes): what rotation by size counts. */
  get rows(): number {
    return this.counts.logLines + this.counts.events + this.counts.changes;
  }

  /** Append serialized records (JSON text, one per record) to one artifact, in order. */
  append(artifact: SegmentArtifact, lines: readonly string[]): Promise<void> {
    if (this.sealed) return Promise.reject(new Error(`segment ${this.seq} is sealed: nothing more goes into it`));
    if (lines.length === 0) return Promise.resolve();
    const previous = this.chains.get(artifact) ?? Promise.resolve();
    const next = previous.then(async () => {
      const writer = await this.writer(artifact);
      await writer.writeSerialized(lines);
    });
    // A failed write fails the seal (the artifact is not committed half-known), never silently.
    const tracked = next.catch((error: unknown) => {
      this.failure ??= error;
    });
    this.chains.set(artifact, tracked);
    return next;
  }

  addGap(gap: IncrementGap): void {
    this.gaps.push({ ...gap, detail: redactSecrets(gap.detail) });
  }

  /** Work started for this segment (a log fetch): sealing waits for it. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.tasks.add(settled);
    void settled.finally(() => this.tasks.delete(settled));
    return work;
  }

  private writer(artifact: SegmentArtifact): Promise<NdjsonArtifactWriter> {
    let w = this.writers.get(artifact);
    if (!w) {
      const spec = ARTIFACTS[artifact];
      w = createNdjsonArtifact(this.init.store, `${incrementDir(this.seq)}${spec.file}`, {
        gzip: true,
        contentType: NDJSON_CONTENT_TYPE,
        metadata: {
          runId: this.init.runId,
          caseId: this.init.caseId,
          source: spec.source,
          kind: spec.kind,
          increment: String(this.seq),
          ...('table' in spec ? { table: spec.table } : {}),
        },
      });
      this.writers.set(artifact, w);
    }
    return w;
  }

  /**
   * Seal: wait for the segment's work, commit its artifacts, write increments/<seq>/manifest.json
   * once and record its hash in custody. Everything collected is committed even when a write
   * failed; the failure is then thrown after the artifacts are safe (the segment stays unsealed
   * and the next one names it as lost).
   */
  async seal(options: {
    custody: CustodyLog;
    to: string;
    cursorTo: Record<string, string>;
    baseManifestSha256: string;
    previous?: { seq: number; manifestSha256: string };
    lost?: LostSegment[];
    final?: string;
  }): Promise<SealedSegment> {
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
    this.sealed = true;
    await Promise.all([...this.chains.values()]);
    const artifacts: ArtifactRef[] = [];
    for (const [name, pending] of this.writers) {
      const spec = ARTIFACTS[name];
      const writer = await pending;
      const written = await writer.close();
      artifacts.push({
        path: written.path,
        source: spec.source,
        kind: spec.kind,
        sha256: written.sha256,
        bytes: written.bytes,
        records: written.records,
        contentType: NDJSON_CONTENT_TYPE,
        contentEncoding: 'gzip',
        ...('table' in spec ? { table: spec.table } : {}),
      });
      await this.init.store.protect?.(written.path);
    }
    if (this.failure !== undefined) throw this.failure;
    artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const chainHead = await options.custody.currentHead();
    const manifest: IncrementManifest = {
      schemaVersion: 1,
      kind: 'aks-evidence-increment',
      runId: this.init.runId,
      caseId: this.init.caseId,
      seq: this.seq,
      window: this.init.window,
      from: this.from,
      to: options.to,
      cursor: { from: this.init.cursorFrom, to: options.cursorTo },
      baseManifestSha256: options.baseManifestSha256,
      ...(options.previous ? { previous: options.previous } : {}),
      custody: { chainHead },
      artifacts,
      counts: { ...this.counts },
      gaps: this.gaps,
      ...(options.lost?.length ? { lost: options.lost } : {}),
      ...(options.final ? { final: { reason: options.final } } : {}),
    };
    const written = await writeIncrementManifest(this.init.store, manifest);
    await options.custody.record('increment-sealed', {
      seq: this.seq,
      manifestPath: incrementManifestPath(this.seq),
      manifestSha256: written.sha256,
      from: this.from,
      to: options.to,
      artifacts: artifacts.length,
      counts: manifest.counts,
      gaps: this.gaps.length,
      ...(options.final ? { final: options.final } : {}),
    });
    return {
      seq: this.seq,
      manifestPath: incrementManifestPath(this.seq),
      manifestSha256: written.sha256,
      from: this.from,
      to: options.to,
      counts: manifest.counts,
      gaps: this.gaps.length,
      artifacts: artifacts.length,
      ...(options.final ? { final: options.final } : {}),
    };
  }

  /** The segment's manifest as it would be sealed now (for callers that ingest it). */
  static async artifactsOf(manifest: IncrementManifest): Promise<ArtifactRef[]> {
    return manifest.artifacts;
  }
}

/** Now, as the segment's time stamps are written. */
export function nowIso(clock: Clock): string {
  return toRfc3339(clock());
}
