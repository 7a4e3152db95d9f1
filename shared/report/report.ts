import type { EvidenceStore, Manifest } from '../evidence/types.js';
import { verifyBundle, type VerifyOptions } from '../evidence/verify.js';
import type { Clock } from '../util/time.js';
import { reportAssets } from './assets.js';
import { buildReportModel } from './model.js';
import { renderReportHtml } from './render.js';
import type { ReportModel, VerificationSection } from './types.js';
import { verificationFromVerifyResult } from './verification.js';

export interface WriteReportOptions {
  /** Version of the tool writing the report. */
  generatorVersion: string;
  /**
   * How to verify the bundle first: the anchors outside it (a hash kept elsewhere, the TSA's CA,
   * the Log Analytics custody row), each shown as a passed / failed / not configured check.
   */
  verify?: Pick<VerifyOptions, 'expectedManifestSha256' | 'tsaCaPem' | 'anchors'>;
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
    ...options.verify,
    ...(signal ? { abortSignal: signal } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const verification = verificationFromVerifyResult(verified);
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
