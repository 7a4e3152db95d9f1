import pLimit from 'p-limit';
import { describeError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { walkCustodyChain } from './chainWalk.js';
import { CLAIM_PATH } from './claim.js';
import { ArtifactNotFoundError } from './errors.js';
import { hashStream, sha256Hex } from './hash.js';
import { parseManifestSha256File, readSmallArtifact, validateManifest } from './manifest.js';
import { TIMESTAMP_PATH } from './timestamp.js';
import { checkIncrements, type IncrementsVerifyReport } from './verifyIncrements.js';
import { MANIFEST_PATH, MANIFEST_SHA256_PATH, type EvidenceStore, type InterruptionRecord, type Manifest, type ProtectionReport } from './types.js';

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

/** How an anchor outside the bundle judged it. 'unknown': the service could not say (e.g. Azurite and WORM). */
export type AnchorStatus = 'passed' | 'failed' | 'not-configured' | 'unknown';

export interface AnchorResult {
  /** 'expected-sha256' | 'rfc3161-timestamp' | 'log-analytics' | 'worm' | … */
  anchor: string;
  status: AnchorStatus;
  detail: string;
}

/** What an anchor checker outside this layer (e.g. the Log Analytics custody row) is given. */
export interface AnchorContext {
  runId: string;
  caseId: string;
  /** SHA-256 of manifest.json as stored now. */
  manifestSha256: string;
  manifest: Manifest;
  /** The custody chain head the manifest records. */
  chainHead?: string;
  /** SHA-256 of the manifest-sealed custody record, when the chain has one. */
  sealRecordSha256?: string;
}

/** A check of the bundle against something stored outside it. */
export interface ExternalAnchor {
  anchor: string;
  check(context: AnchorContext): Promise<AnchorResult>;
}

export interface CustodyVerifyReport {
  records: number;
  /** Every link from the claim to the newest record holds. */
  chainIntact: boolean;
  /** The newest record. */
  head?: { seq: number; sha256: string; step: string; at: string };
  /** The manifest-sealed record of this manifest. */
  sealRecord?: { seq: number; sha256: string };
  steps: string[];
}

export interface VerifyReport {
  /** True only when nothing failed: chain intact, manifest sealed by it, every artifact unchanged, no unexplained file, no anchor failed. */
  ok: boolean;
  location: string;
  runId?: string;
  caseId?: string;
  /** UTC RFC 3339. */
  verifiedAt: string;
  /** A manifest is present and the custody chain seals it. */
  sealed: boolean;
  /** The manifest says the run was sealed after an interruption. */
  interrupted?: InterruptionRecord;
  /** SHA-256 of manifest.json as stored now. */
  manifestSha256?: string;
  /** The hash recorded in manifest.json.sha256. */
  manifestRecordedSha256?: string;
  manifestHashMatches: boolean;
  /** Every artifact the manifest lists (and every unattributed file it names), in manifest order. */
  artifacts: ArtifactVerifyResult[];
  /** Files in the bundle that neither the manifest nor the custody chain accounts for (each a failure). */
  unexpected: string[];
  /** Derived files verify knows and does not hold to the manifest, each with why. */
  excluded: { path: string; why: string }[];
  custody: CustodyVerifyReport;
  /** Custody records present (kept for callers of the earlier report). */
  custodyRecords: number;
  /** Each anchor outside the bundle: passed / failed / not configured / unknown. */
  anchors: AnchorResult[];
  protection?: ProtectionReport;
  /** The preservation window's increments, when the run kept preserving after its seal. */
  increments?: IncrementsVerifyReport;
  /** Why ok is false, one line each, naming every failing file. */
  problems: string[];
  /** Worth a look, but not a failure. */
  warnings: string[];
}

export interface VerifyOptions {
  abortSignal?: AbortSignal;
  /**
   * The manifest hash recorded independently at collection time (printed by collect, the
   * Sentinel incident comment, the run status): someone able to rewrite manifest.json, its
   * .sha256 and the custody chain is caught by this.
   */
  expectedManifestSha256?: string;
  /** PEM of the Time-Stamping Authority's CA: the stored RFC 3161 token must chain to it. */
  tsaCaPem?: string;
  /** Anchors checked outside this layer (the Log Analytics custody row). */
  anchors?: ExternalAnchor[];
  /** Artifacts hashed in parallel. Default 4. */
  concurrency?: number;
  clock?: Clock;
}

const INGESTION_RECEIPT = /^ingestion\/receipt-(\d+)\.json$/;
const INGESTION_ATTEMPT = /^ingestion\/attempt-(\d+)\.json$/;
const INGESTION_ACKS = /^ingestion\/acked-(\d+)-[A-Za-z0-9_]+-\d+\.ndjson\.gz$/;

/**
 * Verify a bundle as someone who trusts nothing in the storage would: walk the custody chain
 * from the run's claim, check that the chain seals exactly this manifest, re-hash every
 * artifact (streaming), account for every file in the bundle, and check the anchors outside
 * it. Throws only when the store itself cannot be read (network, permissions), never for
 * evidence problems: those are named in `problems`.
 */
export async function verifyBundle(store: EvidenceStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const clock = options.clock ?? systemClock;
  const signal = options.abortSignal;
  const readOpts = signal ? { abortSignal: signal } : {};
  const report: VerifyReport = {
    ok: false,
    location: store.location,
    verifiedAt: toRfc3339(clock()),
    sealed: false,
    manifestHashMatches: false,
    artifacts: [],
    unexpected: [],
    excluded: [],
    custody: { records: 0, chainIntact: false, steps: [] },
    custodyRecords: 0,
    anchors: [],
    problems: [],
    warnings: [],
  };

  const chain = await walkCustodyChain(store, readOpts);
  report.custody = {
    records: chain.records.length,
    chainIntact: chain.problems.length === 0 && chain.claim !== undefined,
    ...(chain.head ? { head: chain.head } : {}),
    steps: chain.records.map((r) => r.record.step),
  };
  report.custodyRecords = chain.records.length;
  report.problems.push(...chain.problems.map((p) => `CUSTODY: ${p}`));
  if (chain.claim) {
    report.runId = chain.claim.claim.runId;
    report.caseId = chain.claim.claim.caseId;
  }

  let manifest: Manifest | undefined;
  let manifestBytes: Buffer | undefined;
  const manifestInfo = await store.stat(MANIFEST_PATH);
  if (!manifestInfo) {
    if (chain.head) {
      report.problems.unshift(
        `never sealed: collection interrupted after ${chain.head.step} (custody record ${chain.head.seq} at ${chain.head.at}); seal what it published with: aks-evidence seal <bundle>`,
      );
    } else if (chain.claim) {
      report.problems.unshift('never sealed: collection interrupted after claiming its path (no custody record)');
    } else {
      report.problems.unshift(`${MANIFEST_PATH} is missing and there is no custody chain: this is not an aks-evidence bundle, or its manifest and custody were removed`);
    }
  } else {
    manifestBytes = await readSmallArtifact(store, MANIFEST_PATH, 256 * 1024 * 1024, readOpts);
    report.manifestSha256 = sha256Hex(manifestBytes);
    const shaInfo = await store.stat(MANIFEST_SHA256_PATH);
    if (!shaInfo) {
      report.problems.push(`${MANIFEST_SHA256_PATH} is missing: the manifest's own hash cannot be checked`);
    } else {
      try {
        const text = (await readSmallArtifact(store, MANIFEST_SHA256_PATH, 4096, readOpts)).toString('utf8');
        report.manifestRecordedSha256 = parseManifestSha256File(text);
        report.manifestHashMatches = report.manifestRecordedSha256 === report.manifestSha256;
        if (!report.manifestHashMatches) {
          report.problems.push(`${MANIFEST_PATH} is altered: its sha256 is ${report.manifestSha256}, ${MANIFEST_SHA256_PATH} records ${report.manifestRecordedSha256}`);
        }
      } catch (error) {
        report.problems.push(`${MANIFEST_SHA256_PATH} is unreadable: ${describeError(error)}`);
      }
    }
    try {
      manifest = validateManifest(JSON.parse(manifestBytes.toString('utf8')));
      report.runId = manifest.runId;
      report.caseId = manifest.caseId;
      if (manifest.interrupted) report.interrupted = manifest.interrupted;
    } catch (error) {
      report.problems.push(`${MANIFEST_PATH} is not a valid manifest: ${describeError(error)}`);
    }
  }

  // The chain must seal exactly this manifest, and the manifest must name the chain it sits in.
  if (manifest && report.manifestSha256) {
    const mc = manifest.custody;
    if (!mc) {
      report.problems.push(`${MANIFEST_PATH} records no custody chain head: it was not sealed by this version's custody chain (forged, or sealed by an earlier version)`);
    } else {
      if (chain.claim && mc.claimSha256 !== chain.claim.sha256)
        report.problems.push(`${MANIFEST_PATH} names claim ${mc.claimSha256}, but ${CLAIM_PATH} hashes to ${chain.claim.sha256}`);
      if (chain.claim && manifest.runId !== chain.claim.claim.runId)
        report.problems.push(`${MANIFEST_PATH} is run ${manifest.runId}, but the path is claimed by run ${chain.claim.claim.runId}`);
      const headRecord = chain.records.find((r) => r.record.seq === mc.chainHead.seq);
      const headSha = mc.chainHead.seq === 0 ? chain.claim?.sha256 : headRecord?.sha256;
      if (headSha !== mc.chainHead.sha256) {
        report.problems.push(
          `${MANIFEST_PATH} records custody head ${mc.chainHead.seq} = ${mc.chainHead.sha256}, but that record ${headSha ? `hashes to ${headSha}` : 'is not in the chain'}`,
        );
      }
      const seal = chain.records.find((r) => r.record.seq > mc.chainHead.seq && r.record.step === 'manifest-sealed');
      if (!seal) {
        report.problems.push(
          `no manifest-sealed custody record follows the manifest's chain head (record ${mc.chainHead.seq}): the seal record was removed, or ${MANIFEST_PATH} was never sealed by this run`,
        );
      } else {
        const sealedSha = seal.record.details.manifestSha256;
        if (sealedSha !== report.manifestSha256) {
          report.problems.push(
            `${MANIFEST_PATH} is not the manifest this run sealed: custody record ${seal.record.seq} seals sha256 ${String(sealedSha)}, ${MANIFEST_PATH} hashes to ${report.manifestSha256}`,
          );
        } else {
          report.sealed = true;
          report.custody.sealRecord = { seq: seal.record.seq, sha256: seal.sha256 };
        }
        const between = chain.records.filter((r) => r.record.seq > mc.chainHead.seq && r.record.seq < seal.record.seq);
        if (between.length)
          report.warnings.push(
            `${between.length} custody record(s) were appended while the manifest was being sealed (${between.map((r) => r.record.step).join(', ')}): their files are not in the manifest`,
          );
      }
    }
  }

  if (manifest) {
    const limit = pLimit(Math.max(1, options.concurrency ?? 4));
    const listed = [...manifest.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes })), ...(manifest.unattributed ?? [])];
    report.artifacts = await Promise.all(listed.map((a) => limit(() => checkArtifact(store, a.path, a.sha256, a.bytes, signal))));
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
    if (manifest.unattributed?.length) {
      report.warnings.push(
        `${manifest.unattributed.length} file(s) in the path are not evidence of a finished task (an interrupted attempt, or not written by this run), named in the manifest: ${manifest.unattributed
          .slice(0, 3)
          .map((u) => u.path)
          .join(', ')}${manifest.unattributed.length > 3 ? ', …' : ''}`,
      );
    }
  }

  // Increments of a preservation window: each segment's manifest, artifacts and custody records.
  const increments = await checkIncrements(
    store,
    chain.records,
    { ...(report.runId ? { runId: report.runId } : {}), ...(report.manifestSha256 ? { manifestSha256: report.manifestSha256 } : {}) },
    readOpts,
  );
  if (increments.report.sealed > 0 || increments.report.unsealed.length > 0) report.increments = increments.report;
  report.problems.push(...increments.problems);
  report.warnings.push(...increments.warnings);

  await accountForFiles(store, manifest, chain.records, report, readOpts, increments.listed);

  // Anchors outside the bundle.
  report.anchors.push(expectedShaAnchor(options.expectedManifestSha256, report.manifestSha256));
  report.anchors.push(await timestampAnchor(store, manifestBytes, options.tsaCaPem));
  try {
    report.protection = await store.protection();
  } catch (error) {
    report.warnings.push(`protection could not be read: ${describeError(error)}`);
  }
  report.anchors.push(wormAnchor(manifest, report.protection));
  if (manifest && report.manifestSha256) {
    const context: AnchorContext = {
      runId: manifest.runId,
      caseId: manifest.caseId,
      manifestSha256: report.manifestSha256,
      manifest,
      ...(manifest.custody ? { chainHead: manifest.custody.chainHead.sha256 } : {}),
      ...(report.custody.sealRecord ? { sealRecordSha256: report.custody.sealRecord.sha256 } : {}),
    };
    for (const anchor of options.anchors ?? []) {
      try {
        report.anchors.push(await anchor.check(context));
      } catch (error) {
        report.anchors.push({ anchor: anchor.anchor, status: 'failed', detail: `could not be checked: ${describeError(error)}` });
      }
    }
  } else {
    for (const anchor of options.anchors ?? []) report.anchors.push({ anchor: anchor.anchor, status: 'failed', detail: 'no valid manifest to compare with' });
  }
  for (const a of report.anchors) if (a.status === 'failed') report.problems.push(`ANCHOR ${a.anchor} failed: ${a.detail}`);

  report.ok = manifest !== undefined && report.sealed && report.manifestHashMatches && report.artifacts.every((a) => a.status === 'ok') && report.problems.length === 0;
  return report;
}

/**
 * Every file in the bundle is either listed in the manifest, part of the custody chain, the
 * manifest's own files, or a derived file verify knows (ingestion bookkeeping), each checked
 * where it can be. Anything else fails verify.
 */
async function accountForFiles(
  store: EvidenceStore,
  manifest: Manifest | undefined,
  records: Awaited<ReturnType<typeof walkCustodyChain>>['records'],
  report: VerifyReport,
  readOpts: { abortSignal?: AbortSignal },
  incrementFiles: ReadonlySet<string> = new Set(),
): Promise<void> {
  const listed = new Set([...(manifest?.artifacts ?? []).map((a) => a.path), ...(manifest?.unattributed ?? []).map((u) => u.path), ...incrementFiles]);
  // Receipts the chain vouches for (path → sha256), and the ack parts those receipts list.
  const receipts = new Map<string, string>();
  for (const r of records) {
    if (r.record.step !== 'ingestion-attempt') continue;
    const d = r.record.details as { receiptPath?: unknown; receiptSha256?: unknown };
    if (typeof d.receiptPath === 'string' && typeof d.receiptSha256 === 'string') receipts.set(d.receiptPath, d.receiptSha256);
  }
  const ackParts = new Map<string, string>();
  const files: string[] = [];
  for await (const item of store.list()) files.push(item.path);
  for (const path of files) {
    if (!INGESTION_RECEIPT.test(path)) continue;
    const anchored = receipts.get(path);
    if (!anchored) {
      report.problems.push(`FORGED?: ${path} is an ingestion receipt that no custody record vouches for`);
      continue;
    }
    const bytes = await readSmallArtifact(store, path, 64 * 1024 * 1024, readOpts);
    const actual = sha256Hex(bytes);
    if (actual !== anchored) {
      report.problems.push(`ALTERED: ${path} hashes to ${actual}, its custody record says ${anchored}`);
      continue;
    }
    try {
      const receipt = JSON.parse(bytes.toString('utf8')) as { tables?: Record<string, { acknowledgements?: { path: string; sha256: string }[] }> };
      for (const t of Object.values(receipt.tables ?? {})) for (const a of t.acknowledgements ?? []) ackParts.set(a.path, a.sha256);
    } catch {
      report.problems.push(`${path} is not valid JSON`);
    }
  }
  for (const [path, sha] of receipts) {
    if (!files.includes(path)) report.problems.push(`MISSING: ${path} (an ingestion receipt the custody chain records, sha256 ${sha})`);
  }

  for (const path of files) {
    if (listed.has(path) || path === MANIFEST_PATH || path === MANIFEST_SHA256_PATH || path === CLAIM_PATH || /^custody\//.test(path)) continue;
    if (path === TIMESTAMP_PATH || INGESTION_RECEIPT.test(path)) continue; // checked as anchors / above
    if (INGESTION_ACKS.test(path)) {
      const expected = ackParts.get(path);
      if (expected) {
        const actual = (await hashStream(await store.read(path, readOpts))).sha256;
        if (actual !== expected) report.problems.push(`ALTERED: ${path} hashes to ${actual}, its ingestion receipt says ${expected}`);
      } else {
        report.excluded.push({ path, why: 'acknowledgements of an ingestion attempt that wrote no receipt (cut short): ingestion bookkeeping, not evidence' });
      }
      continue;
    }
    if (INGESTION_ATTEMPT.test(path)) {
      report.excluded.push({ path, why: 'ingestion attempt start record: ingestion bookkeeping, not evidence' });
      continue;
    }
    report.unexpected.push(path);
  }
  for (const path of report.unexpected) report.problems.push(`UNEXPECTED: ${path} is in the bundle but not in the manifest`);
}

function expectedShaAnchor(expected: string | undefined, actual: string | undefined): AnchorResult {
  if (!expected) return { anchor: 'expected-sha256', status: 'not-configured', detail: 'no hash given (--expect-sha256)' };
  const want = expected.trim().toLowerCase();
  if (!actual) return { anchor: 'expected-sha256', status: 'failed', detail: `expected manifest sha256 ${want}, but there is no manifest` };
  return want === actual
    ? { anchor: 'expected-sha256', status: 'passed', detail: `manifest sha256 ${actual} is the hash recorded independently` }
    : {
        anchor: 'expected-sha256',
        status: 'failed',
        detail: `${MANIFEST_PATH} is not the sealed manifest: its sha256 is ${actual}, the expected (independently recorded) hash is ${want}`,
      };
}

async function timestampAnchor(store: EvidenceStore, manifestBytes: Buffer | undefined, tsaCaPem: string | undefined): Promise<AnchorResult> {
  const anchor = 'rfc3161-timestamp';
  const present = await store.stat(TIMESTAMP_PATH);
  if (!present) {
    return tsaCaPem
      ? { anchor, status: 'failed', detail: `a TSA CA was given but the bundle has no ${TIMESTAMP_PATH}` }
      : { anchor, status: 'not-configured', detail: `no ${TIMESTAMP_PATH} (no TSA was configured for the run)` };
  }
  if (!manifestBytes) return { anchor, status: 'failed', detail: `${TIMESTAMP_PATH} is present but there is no manifest to check it against` };
  const der = await readSmallArtifact(store, TIMESTAMP_PATH, 1024 * 1024);
  // Loaded on demand: bundles without a timestamp never load the PKI libraries.
  const { checkTimestamp } = await import('./timestamp.js');
  const check = await checkTimestamp(der, manifestBytes, tsaCaPem ? { trustedCaPem: tsaCaPem } : {});
  return { anchor, status: check.status, detail: check.detail };
}

function wormAnchor(manifest: Manifest | undefined, now: ProtectionReport | undefined): AnchorResult {
  const anchor = 'worm';
  const policy = manifest?.protection.versionLevelPolicy;
  if (!policy) return { anchor, status: 'not-configured', detail: `${manifest?.protection.store ?? now?.store ?? 'this store'} has no version-level immutability policy` };
  if (policy.state === 'unknown') return { anchor, status: 'unknown', detail: `the manifest says: ${policy.detail}` };
  if (policy.state !== 'locked') return { anchor, status: 'not-configured', detail: `no locked WORM policy when the run wrote: ${policy.detail}` };
  const current = now?.versionLevelPolicy;
  if (current && current.state !== 'locked' && current.state !== 'unknown') {
    return { anchor, status: 'failed', detail: `the manifest says the policy was locked when the run wrote, but the store now reports: ${current.detail}` };
  }
  return { anchor, status: 'passed', detail: `a locked version-level immutability policy was in force when the run wrote (${policy.detail})` };
}

async function checkArtifact(store: EvidenceStore, path: string, expectedSha256: string, expectedBytes: number, signal: AbortSignal | undefined): Promise<ArtifactVerifyResult> {
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
