import { describeError } from '../util/errors.js';
import type { StoredCustodyRecord } from './custody.js';
import { ArtifactNotFoundError } from './errors.js';
import { hashStream } from './hash.js';
import { incrementManifestPath, readIncrementManifest, type IncrementGap, type IncrementManifest } from './increment.js';
import type { EvidenceStore } from './types.js';

/** What verify found about a run's preservation window(s). */
export interface IncrementsVerifyReport {
  /** Segments whose increment-sealed record and manifest agree. */
  sealed: number;
  /** Segments started and never sealed: the last one is an interrupted window, others are named as lost. */
  unsealed: { seq: number; startedAt: string; namedLost: boolean }[];
  /** Artifacts listed by sealed segments (all re-hashed). */
  artifacts: number;
  /** Every gap the segments name (time ranges included). */
  gaps: IncrementGap[];
  /** The preservation window's end, when its custody records it. */
  ended?: { reason: string; at: string };
  /** Time covered by sealed segments, first to last. */
  covered?: { from: string; to: string };
}

export interface IncrementsCheck {
  report: IncrementsVerifyReport;
  /** Paths the increments account for (manifests, artifacts, files of lost segments). */
  listed: Set<string>;
  problems: string[];
  warnings: string[];
}

/**
 * Check the increments of a bundle against its custody chain: every `increment-sealed` record's
 * manifest hashes to what the record says, continues this run's sealed manifest and the segment
 * before it, was built on a custody head that precedes its seal, and every artifact it lists
 * re-hashes to its entry. A segment started and never sealed is a failure, worded like an
 * interrupted run, unless a later sealed segment names it as lost (a gap with its time range,
 * its files hashed and accounted for).
 */
export async function checkIncrements(
  store: EvidenceStore,
  records: readonly StoredCustodyRecord[],
  context: { runId?: string; manifestSha256?: string },
  options: { abortSignal?: AbortSignal } = {},
): Promise<IncrementsCheck> {
  const report: IncrementsVerifyReport = { sealed: 0, unsealed: [], artifacts: 0, gaps: [] };
  const listed = new Set<string>();
  const problems: string[] = [];
  const warnings: string[] = [];
  const started = new Map<number, StoredCustodyRecord>();
  const seals = new Map<number, StoredCustodyRecord>();
  for (const r of records) {
    if (r.record.step === 'preservation-ended') report.ended = { reason: String(r.record.details['reason'] ?? ''), at: r.record.at };
    const seq = r.record.details['seq'];
    if (typeof seq !== 'number') continue;
    if (r.record.step === 'increment-started') started.set(seq, r);
    if (r.record.step === 'increment-sealed') {
      if (seals.has(seq)) problems.push(`INCREMENT ${seq}: sealed twice (custody records ${seals.get(seq)!.record.seq} and ${r.record.seq})`);
      else seals.set(seq, r);
    }
  }
  if (started.size === 0 && seals.size === 0) return { report, listed, problems, warnings };

  const manifests = new Map<number, { manifest: IncrementManifest; sha256: string }>();
  const lostNamed = new Set<number>();
  for (const [seq, seal] of [...seals].sort((a, b) => a[0] - b[0])) {
    const path = incrementManifestPath(seq);
    listed.add(path);
    const expected = String(seal.record.details['manifestSha256'] ?? '');
    let read: { manifest: IncrementManifest; sha256: string };
    try {
      read = await readIncrementManifest(store, seq, options);
    } catch (error) {
      if (error instanceof ArtifactNotFoundError || !(await store.stat(path))) problems.push(`MISSING: ${path} (custody record ${seal.record.seq} seals sha256 ${expected})`);
      else problems.push(`INCREMENT ${seq}: ${path} is unreadable or invalid: ${describeError(error)}`);
      continue;
    }
    const m = read.manifest;
    if (read.sha256 !== expected) {
      problems.push(`ALTERED: ${path} hashes to ${read.sha256}, but custody record ${seal.record.seq} seals ${expected}`);
      continue;
    }
    manifests.set(seq, read);
    report.sealed++;
    if (m.seq !== seq) problems.push(`INCREMENT ${seq}: ${path} says it is segment ${m.seq}`);
    if (context.runId && m.runId !== context.runId) problems.push(`INCREMENT ${seq}: belongs to run ${m.runId}, not ${context.runId}`);
    if (context.manifestSha256 && m.baseManifestSha256 !== context.manifestSha256) {
      problems.push(`INCREMENT ${seq}: continues manifest ${m.baseManifestSha256}, but this bundle's sealed manifest.json hashes to ${context.manifestSha256}`);
    }
    const head = records.find((r) => r.record.seq === m.custody.chainHead.seq);
    if (m.custody.chainHead.seq >= seal.record.seq || (m.custody.chainHead.seq > 0 && head?.sha256 !== m.custody.chainHead.sha256)) {
      problems.push(
        `INCREMENT ${seq}: built on custody record ${m.custody.chainHead.seq} = ${m.custody.chainHead.sha256}, which is not the chain's record before its seal (record ${seal.record.seq})`,
      );
    }
    if (m.previous) {
      const prev = manifests.get(m.previous.seq);
      if (prev && prev.sha256 !== m.previous.manifestSha256)
        problems.push(`INCREMENT ${seq}: names segment ${m.previous.seq} with sha256 ${m.previous.manifestSha256}, which hashes to ${prev.sha256}`);
    }
    for (const a of m.artifacts) {
      listed.add(a.path);
      report.artifacts++;
      const problem = await checkFile(store, a.path, a.sha256, a.bytes, options.abortSignal);
      if (problem) problems.push(problem);
    }
    for (const lost of m.lost ?? []) {
      lostNamed.add(lost.seq);
      warnings.push(
        `increment ${lost.seq} was lost (${lost.reason}): ${lost.from} to ${lost.to} is covered by no sealed segment; ${lost.files.length} file(s) it left are named in increment ${seq}`,
      );
      for (const f of lost.files) {
        listed.add(f.path);
        const problem = await checkFile(store, f.path, f.sha256, f.bytes, options.abortSignal);
        if (problem) problems.push(problem);
      }
    }
    for (const g of m.gaps) report.gaps.push(g);
    if (!report.covered) report.covered = { from: m.from, to: m.to };
    else {
      if (m.from < report.covered.from) report.covered.from = m.from;
      if (m.to > report.covered.to) report.covered.to = m.to;
    }
  }

  const highest = Math.max(0, ...started.keys(), ...seals.keys());
  for (const [seq, r] of [...started].sort((a, b) => a[0] - b[0])) {
    if (seals.has(seq)) continue;
    const namedLost = lostNamed.has(seq);
    report.unsealed.push({ seq, startedAt: r.record.at, namedLost });
    if (namedLost) continue;
    if (seq === highest) {
      problems.push(
        `never sealed: preservation interrupted after increment-started ${seq} (custody record ${r.record.seq} at ${r.record.at}): segment ${seq} was never sealed; what it holds is unverified`,
      );
    } else {
      problems.push(`INCREMENT ${seq}: started (custody record ${r.record.seq} at ${r.record.at}) and never sealed, and no later segment names it as lost`);
    }
  }
  for (const seq of seals.keys()) if (!started.has(seq)) warnings.push(`increment ${seq} is sealed without an increment-started record`);
  if (report.gaps.length)
    warnings.push(
      `${report.gaps.length} gap(s) in the increments: ${report.gaps
        .slice(0, 3)
        .map((g) => g.detail)
        .join('; ')}${report.gaps.length > 3 ? '; …' : ''}`,
    );
  if (!report.ended && report.sealed > 0 && report.unsealed.every((u) => u.namedLost)) {
    warnings.push('the preservation window has no preservation-ended record: it is still running, or its process stopped between two segments');
  }
  return { report, listed, problems, warnings };
}

async function checkFile(store: EvidenceStore, path: string, sha256: string, bytes: number, signal: AbortSignal | undefined): Promise<string | undefined> {
  if (!(await store.stat(path))) return `MISSING: ${path} (expected sha256 ${sha256})`;
  let actual: { sha256: string; bytes: number };
  try {
    actual = await hashStream(await store.read(path, signal ? { abortSignal: signal } : {}), signal ? { abortSignal: signal } : {});
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) return `MISSING: ${path} (expected sha256 ${sha256})`;
    throw error;
  }
  if (actual.bytes !== bytes) return `ALTERED: ${path} is ${actual.bytes} bytes, the increment says ${bytes} (found sha256 ${actual.sha256})`;
  if (actual.sha256 !== sha256) return `ALTERED: ${path} (expected sha256 ${sha256}, found ${actual.sha256})`;
  return undefined;
}
