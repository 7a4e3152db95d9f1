import pLimit from 'p-limit';
import { describeError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { ArtifactNotFoundError } from './errors.js';
import { hashStream, sha256Hex } from './hash.js';
import { parseManifestSha256File, readSmallArtifact, validateManifest } from './manifest.js';
import { MANIFEST_PATH, MANIFEST_SHA256_PATH, type EvidenceStore, type Manifest, type ProtectionReport } from './types.js';

export type ArtifactVerifyStatus = 'ok' | 'missing' | 'altered' | 'size-mismatch';

export interface ArtifactVerifyResult {
  path: string;
  status: ArtifactVerifyStatus;
  expectedSha256: string;
  actualSha256?: string;
  expectedBytes: number;
  actualBytes?: number;
  /** The hash the store recorded at write time (Blob metadata), when it keeps one. */
  recordedSha256?: string;
}

export interface VerifyReport {
  /** True when manifest.json matches manifest.json.sha256, is valid, and every artifact it lists is present and unchanged. */
  ok: boolean;
  location: string;
  runId?: string;
  caseId?: string;
  /** UTC RFC 3339. */
  verifiedAt: string;
  /** SHA-256 of manifest.json as stored now. */
  manifestSha256?: string;
  /** The hash recorded in manifest.json.sha256. */
  manifestRecordedSha256?: string;
  manifestHashMatches: boolean;
  /** Every artifact the manifest lists, in manifest order. */
  artifacts: ArtifactVerifyResult[];
  /** Files in the bundle that the manifest does not list (custody log, ingestion receipts and the manifest's own files excepted). */
  unexpected: string[];
  /** Custody records present (custody/NNNN-<step>.json). */
  custodyRecords: number;
  protection?: ProtectionReport;
  /** Why ok is false, one line each, naming every failing artifact. */
  problems: string[];
  /** Worth a look, but not a failure (e.g. Blob metadata disagreeing with the manifest while content matches). */
  warnings: string[];
}

export interface VerifyOptions {
  abortSignal?: AbortSignal;
  /**
   * The manifest hash recorded independently at collection time (printed by collect, kept in
   * the case file or the Durable output). Someone able to rewrite both manifest.json and its
   * .sha256 is caught only by this.
   */
  expectedManifestSha256?: string;
  /** Artifacts hashed in parallel. Default 4. */
  concurrency?: number;
  clock?: Clock;
}

/** Paths a sealed bundle may hold besides the manifest's artifacts. */
function isExpectedExtra(path: string): boolean {
  return (
    path === MANIFEST_PATH ||
    path === MANIFEST_SHA256_PATH ||
    path.startsWith('custody/') ||
    // Written after sealing by each ingestion attempt (receipts, attempt claims, acknowledged-id parts).
    /^ingestion\/(receipt|attempt)-\d+\.json$/.test(path) ||
    /^ingestion\/acked-\d+-[A-Za-z0-9_]+-\d+\.ndjson\.gz$/.test(path)
  );
}

/**
 * Re-hash every artifact the manifest lists (streaming) and check manifest.json against
 * manifest.json.sha256. Names every missing or altered artifact. Throws only when the store
 * itself cannot be read (network, permissions), never for evidence problems.
 */
export async function verifyBundle(store: EvidenceStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const clock = options.clock ?? systemClock;
  const signal = options.abortSignal;
  const report: VerifyReport = {
    ok: false,
    location: store.location,
    verifiedAt: toRfc3339(clock()),
    manifestHashMatches: false,
    artifacts: [],
    unexpected: [],
    custodyRecords: 0,
    problems: [],
    warnings: [],
  };

  let manifest: Manifest | undefined;
  const manifestInfo = await store.stat(MANIFEST_PATH);
  if (!manifestInfo) {
    report.problems.push(`${MANIFEST_PATH} is missing: the run was never sealed, or the manifest was removed`);
  } else {
    const bytes = await readSmallArtifact(store, MANIFEST_PATH, 256 * 1024 * 1024, signal ? { abortSignal: signal } : {});
    report.manifestSha256 = sha256Hex(bytes);
    const shaInfo = await store.stat(MANIFEST_SHA256_PATH);
    if (!shaInfo) {
      report.problems.push(`${MANIFEST_SHA256_PATH} is missing: the manifest's own hash cannot be checked`);
    } else {
      try {
        const text = (await readSmallArtifact(store, MANIFEST_SHA256_PATH, 4096, signal ? { abortSignal: signal } : {})).toString('utf8');
        report.manifestRecordedSha256 = parseManifestSha256File(text);
        report.manifestHashMatches = report.manifestRecordedSha256 === report.manifestSha256;
        if (!report.manifestHashMatches) {
          report.problems.push(
            `${MANIFEST_PATH} is altered: its sha256 is ${report.manifestSha256}, ${MANIFEST_SHA256_PATH} records ${report.manifestRecordedSha256}`,
          );
        }
      } catch (error) {
        report.problems.push(`${MANIFEST_SHA256_PATH} is unreadable: ${describeError(error)}`);
      }
    }
    const expected = options.expectedManifestSha256?.trim().toLowerCase();
    if (expected && expected !== report.manifestSha256) {
      report.problems.push(`${MANIFEST_PATH} is not the sealed manifest: its sha256 is ${report.manifestSha256}, the expected (independently recorded) hash is ${expected}`);
    }
    try {
      manifest = validateManifest(JSON.parse(bytes.toString('utf8')));
      report.runId = manifest.runId;
      report.caseId = manifest.caseId;
    } catch (error) {
      report.problems.push(`${MANIFEST_PATH} is not a valid manifest: ${describeError(error)}`);
    }
  }

  if (manifest) {
    const limit = pLimit(Math.max(1, options.concurrency ?? 4));
    report.artifacts = await Promise.all(manifest.artifacts.map((a) => limit(() => checkArtifact(store, a.path, a.sha256, a.bytes, signal))));
    for (const a of report.artifacts) {
      if (a.status === 'missing') report.problems.push(`MISSING: ${a.path} (expected sha256 ${a.expectedSha256})`);
      else if (a.status === 'altered') report.problems.push(`ALTERED: ${a.path} (expected sha256 ${a.expectedSha256}, found ${a.actualSha256})`);
      else if (a.status === 'size-mismatch') {
        report.problems.push(`ALTERED: ${a.path} is ${a.actualBytes} bytes, the manifest says ${a.expectedBytes} (found sha256 ${a.actualSha256})`);
      }
      if (a.recordedSha256 && a.recordedSha256 !== a.expectedSha256) {
        const msg = `${a.path}: the sha256 recorded in the store's metadata (${a.recordedSha256}) differs from the manifest's (${a.expectedSha256})`;
        if (a.status === 'ok') report.warnings.push(`${msg}; its content matches the manifest`);
        else report.problems.push(msg);
      }
    }
  }

  const listed = new Set((manifest?.artifacts ?? []).map((a) => a.path));
  for await (const item of store.list()) {
    if (/^custody\/\d+-[^/]+\.json$/.test(item.path)) report.custodyRecords++;
    if (!listed.has(item.path) && !isExpectedExtra(item.path)) report.unexpected.push(item.path);
  }
  if (report.unexpected.length > 0 && manifest) {
    report.warnings.push(`${report.unexpected.length} file(s) are not in the manifest (e.g. an interrupted attempt's artifacts): ${report.unexpected.slice(0, 5).join(', ')}${report.unexpected.length > 5 ? ', …' : ''}`);
  }

  try {
    report.protection = await store.protection();
  } catch (error) {
    report.warnings.push(`protection could not be read: ${describeError(error)}`);
  }

  report.ok = manifest !== undefined && report.manifestHashMatches && report.artifacts.every((a) => a.status === 'ok') && report.problems.length === 0;
  return report;
}

async function checkArtifact(
  store: EvidenceStore,
  path: string,
  expectedSha256: string,
  expectedBytes: number,
  signal: AbortSignal | undefined,
): Promise<ArtifactVerifyResult> {
  signal?.throwIfAborted();
  const base = { path, expectedSha256, expectedBytes };
  const info = await store.stat(path);
  if (!info) return { ...base, status: 'missing' };
  const recorded = info.recordedSha256 ? { recordedSha256: info.recordedSha256 } : {};
  let actual: { sha256: string; bytes: number };
  try {
    actual = await hashStream(await store.read(path, signal ? { abortSignal: signal } : {}), signal ? { abortSignal: signal } : {});
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) return { ...base, status: 'missing' };
    throw error;
  }
  const found = { actualSha256: actual.sha256, actualBytes: actual.bytes, ...recorded };
  if (actual.bytes !== expectedBytes) return { ...base, ...found, status: 'size-mismatch' };
  if (actual.sha256 !== expectedSha256) return { ...base, ...found, status: 'altered' };
  return { ...base, ...found, status: 'ok' };
}
