import type { EvidenceStore, Manifest } from '../evidence/types.js';
import { verifyBundle } from '../evidence/verify.js';
import type { Clock } from '../util/time.js';
import { reportAssets } from './assets.js';
import { buildReportModel } from './model.js';
import { renderReportHtml } from './render.js';
import type { ReportModel, VerificationSection } from './types.js';
import { verificationFromVerifyResult } from './verification.js';

export interface WriteReportOptions {
  /** Version of the tool writing the report. */
  generatorVersion: string;
  /** The manifest SHA-256 recorded outside the bundle (incident comment, run status, case file): checked, and shown as a passed or failed check. */
  expectedManifestSha256?: string;
  /** See BuildReportModelOptions.maxTimelineItems (default 2,000). */
  maxTimelineItems?: number;
  /** See BuildReportModelOptions.maxRowsPerTable (default 5,000). */
  maxRowsPerTable?: number;
  clock?: Clock;
  abortSignal?: AbortSignal;
}

export interface RenderedReport {
  html: string;
  model: ReportModel;
}

/**
 * The report of a sealed bundle, as `aks-evidence report` writes it: the bundle is verified
 * first (every artifact re-hashed), then described. The caller decides where the HTML goes;
 * never into the sealed bundle.
 */
export async function createReport(store: EvidenceStore, options: WriteReportOptions): Promise<RenderedReport> {
  const signal = options.abortSignal;
  const verified = await verifyBundle(store, {
    ...(options.expectedManifestSha256 ? { expectedManifestSha256: options.expectedManifestSha256 } : {}),
    ...(signal ? { abortSignal: signal } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const verification = verificationFromVerifyResult(verified, options.expectedManifestSha256 ? { expectedManifestSha256: options.expectedManifestSha256 } : {});
  const failed = new Set(verified.artifacts.filter((a) => a.status !== 'ok').map((a) => a.path));
  return renderFrom(store, verification, { ...options, kind: 'cli', ...(failed.size ? { excludeArtifacts: failed } : {}) });
}

/** A report of `manifest` (or the bundle's manifest.json) with a given verification section. */
export async function renderFrom(
  store: EvidenceStore,
  verification: VerificationSection,
  options: WriteReportOptions & { kind: ReportModel['kind']; manifest?: Manifest; excludeArtifacts?: ReadonlySet<string> },
): Promise<RenderedReport> {
  const model = await buildReportModel(store, {
    kind: options.kind,
    verification,
    generatorVersion: options.generatorVersion,
    ...(options.manifest ? { manifest: options.manifest } : {}),
    ...(options.excludeArtifacts ? { excludeArtifacts: options.excludeArtifacts } : {}),
    ...(options.maxTimelineItems !== undefined ? { maxTimelineItems: options.maxTimelineItems } : {}),
    ...(options.maxRowsPerTable !== undefined ? { maxRowsPerTable: options.maxRowsPerTable } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  return { html: renderReportHtml(model, await reportAssets()), model };
}
