import { z } from 'zod';
import { ManifestError } from './errors.js';
import { sha256Hex } from './hash.js';
import { readSmallArtifact } from './manifest.js';
import { artifactPath, artifactSchema, count, sha256, utc } from './schemas.js';
import type { ArtifactRef, EvidenceStore, Gap, WrittenArtifact } from './types.js';

/**
 * An increment: what a preservation window kept after the first collection was sealed, in
 * segments. Each segment is its own folder, increments/<seq>/, with its artifacts and its own
 * manifest part, increments/<seq>/manifest.json, written once when the segment is sealed and
 * followed by an `increment-sealed` custody record carrying its SHA-256 — in the run's one
 * custody chain, after the first collection's `manifest-sealed` (which is never rewritten).
 *
 * Custody steps of a window: preservation-started (the window, what is watched, the sealed
 * manifest it continues), increment-started (a segment's number and start), increment-sealed
 * (its manifest's hash), preservation-ended (why and what was kept). A segment started and never
 * sealed (the process died) is reported by verify like an interrupted run; the next segment of
 * the window names it as lost, with its time range and the hash of every file it left.
 */

export const INCREMENTS_PREFIX = 'increments/';
export const INCREMENT_MANIFEST = /^increments\/(\d{6,})\/manifest\.json$/;
const INCREMENT_PATH = /^increments\/(\d{6,})\//;

/** increments/000012/ for segment 12. */
export function incrementDir(seq: number): string {
  return `${INCREMENTS_PREFIX}${String(seq).padStart(6, '0')}/`;
}

export function incrementManifestPath(seq: number): string {
  return `${incrementDir(seq)}manifest.json`;
}

/** The segment number a bundle path belongs to (undefined outside increments/). */
export function incrementSeqOf(path: string): number | undefined {
  const m = INCREMENT_PATH.exec(path);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** A gap of a segment: a Gap, with the time range it concerns when it has one. */
export interface IncrementGap extends Gap {
  /** UTC RFC 3339 start of what is missing. */
  from?: string;
  /** UTC RFC 3339 end of what is missing. */
  to?: string;
}

/** A segment of the window that was started and never sealed: its time range and what it left. */
export interface LostSegment {
  seq: number;
  /** When it started (its increment-started record). */
  from: string;
  /** Until when its time range is uncovered by a sealed segment (the next segment's start). */
  to: string;
  reason: string;
  /** Files it left, with the hash of their content when found (never adopted as evidence). */
  files: { path: string; sha256: string; bytes: number }[];
}

export interface IncrementCounts {
  /** Container log lines kept (pods deleted, containers terminated or restarted). */
  logLines: number;
  /** Log streams read (current and previous). */
  logStreams: number;
  /** Kubernetes events appended. */
  events: number;
  /** Object changes recorded (before and after). */
  changes: number;
  /** Kubernetes API requests made during the segment. */
  apiRequests: number;
}

export interface IncrementManifest {
  schemaVersion: 1;
  kind: 'aks-evidence-increment';
  runId: string;
  caseId: string;
  seq: number;
  /** The window this segment belongs to. */
  window: { id: string; startedAt: string; endsAt: string };
  /** UTC RFC 3339: what this segment covers (from the watch position it resumed at to the one it sealed at). */
  from: string;
  to: string;
  /** The resourceVersion of each watched resource at the start and at the end of the segment. */
  cursor: { from: Record<string, string>; to: Record<string, string> };
  /** SHA-256 of the first collection's manifest.json, which this window continues. */
  baseManifestSha256: string;
  /** The segment before it in the window, when there is one. */
  previous?: { seq: number; manifestSha256: string };
  /** The custody chain's head when this manifest was built (the increment-sealed record follows it). */
  custody: { chainHead: { seq: number; sha256: string } };
  artifacts: ArtifactRef[];
  counts: IncrementCounts;
  gaps: IncrementGap[];
  lost?: LostSegment[];
  /** The window's last segment: why it ended. */
  final?: { reason: string };
}

const schema = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('aks-evidence-increment'),
  runId: z.string().min(1),
  caseId: z.string().min(1),
  seq: z.number().int().positive(),
  window: z.object({ id: z.string().min(1), startedAt: utc, endsAt: utc }),
  from: utc,
  to: utc,
  cursor: z.object({ from: z.record(z.string(), z.string()), to: z.record(z.string(), z.string()) }),
  baseManifestSha256: sha256,
  previous: z.object({ seq: z.number().int().positive(), manifestSha256: sha256 }).optional(),
  custody: z.object({ chainHead: z.object({ seq: count, sha256 }) }),
  artifacts: z.array(artifactSchema),
  counts: z.object({ logLines: count, logStreams: count, events: count, changes: count, apiRequests: count }),
  gaps: z.array(
    z.object({
      source: z.string(),
      reason: z.string(),
      detail: z.string(),
      resource: z.string().optional(),
      namespace: z.string().optional(),
      pod: z.string().optional(),
      container: z.string().optional(),
      from: utc.optional(),
      to: utc.optional(),
    }),
  ),
  lost: z
    .array(z.object({ seq: z.number().int().positive(), from: utc, to: utc, reason: z.string(), files: z.array(z.object({ path: artifactPath, sha256, bytes: count })) }))
    .optional(),
  final: z.object({ reason: z.string() }).optional(),
});

/** Validate an increment manifest; every artifact must lie inside its own segment's folder. */
export function validateIncrementManifest(value: unknown): IncrementManifest {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ManifestError(`increment manifest does not match schema version 1: ${issues.join('; ')}`);
  }
  const m = value as IncrementManifest;
  const dir = incrementDir(m.seq);
  const seen = new Set<string>();
  for (const a of m.artifacts) {
    if (!a.path.startsWith(dir)) throw new ManifestError(`increment ${m.seq} lists ${a.path}, outside its folder ${dir}`);
    if (seen.has(a.path)) throw new ManifestError(`increment ${m.seq} lists ${a.path} twice`);
    seen.add(a.path);
  }
  return m;
}

/** The bytes of an increment manifest: validated, keys sorted, 2-space JSON, trailing newline. */
export function serializeIncrementManifest(manifest: IncrementManifest): string {
  validateIncrementManifest(manifest);
  return JSON.stringify(sorted(manifest), null, 2) + '\n';
}

/** Write a segment's manifest once (an identical retry is accepted by the store) and protect it. */
export async function writeIncrementManifest(store: EvidenceStore, manifest: IncrementManifest): Promise<WrittenArtifact> {
  const target = incrementManifestPath(manifest.seq);
  const written = await store.writeArtifact(target, serializeIncrementManifest(manifest), {
    contentType: 'application/json',
    metadata: { kind: 'increment-manifest', runId: manifest.runId, caseId: manifest.caseId, seq: String(manifest.seq) },
  });
  await store.protect?.(target);
  return written;
}

/** Read a segment's manifest with the hash of its stored bytes. */
export async function readIncrementManifest(
  store: EvidenceStore,
  seq: number,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ manifest: IncrementManifest; sha256: string }> {
  const bytes = await readSmallArtifact(store, incrementManifestPath(seq), 64 * 1024 * 1024, options);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ManifestError(`${incrementManifestPath(seq)} is not valid JSON`, { cause: error });
  }
  return { manifest: validateIncrementManifest(value), sha256: sha256Hex(bytes) };
}

function sorted(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sorted);
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sorted(o[k]);
  return out;
}
