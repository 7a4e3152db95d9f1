import type { ArtifactRef, EvidenceStore, Manifest } from '../evidence/types.js';
import { describeError } from '../util/errors.js';
import type { Clock } from '../util/time.js';
import { renderFrom } from './report.js';
import { verificationAtSealing } from './verification.js';

/** The report's name in a sealed bundle (a retried seal that finds it already written uses report.attempt-N.html). */
export const SEALED_REPORT_PATH = 'report.html';
/** The manifest's `source` of the report artifact. */
export const REPORT_SOURCE = 'report';

export interface SealedReportOptions {
  clock?: Clock;
  /** See BuildReportModelOptions.maxTimelineItems. */
  maxTimelineItems?: number;
}

/**
 * Write the run's report into the bundle as part of sealing, and list it in `manifest`.
 *
 * Order: the report is written BEFORE manifest.json, from the manifest object about to be
 * written (every other field final). That way the manifest lists the report with its SHA-256
 * like any artifact, `verify` re-hashes it, and nobody can swap the document a manager or a
 * court reads without breaking the seal. Written after the manifest, it would be a file no
 * seal covers (verify flags unlisted files) and its integrity would rest on nothing. The price
 * is that the report cannot show the manifest's own hash or verify the bundle it sits in (a
 * file cannot contain the hash of a file that contains its hash); it says so, and points to
 * `aks-evidence verify` and `aks-evidence report`, which make a verified report at any time.
 *
 * A report is a convenience, not evidence: a failure here never stops the seal. It becomes a
 * run-level gap naming the error and the command that writes the report later.
 */
export async function addSealedReport(store: EvidenceStore, manifest: Manifest, options: SealedReportOptions = {}): Promise<void> {
  try {
    const { html } = await renderFrom(store, verificationAtSealing(manifest, store.location), {
      kind: 'sealing',
      manifest,
      generatorVersion: manifest.collector.version,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.maxTimelineItems !== undefined ? { maxTimelineItems: options.maxTimelineItems } : {}),
    });
    const path = await freePath(store);
    const written = await store.writeArtifact(path, html, {
      contentType: 'text/html; charset=utf-8',
      metadata: { kind: 'report', runId: manifest.runId, caseId: manifest.caseId },
    });
    const ref: ArtifactRef = {
      path: written.path,
      source: REPORT_SOURCE,
      kind: 'other',
      sha256: written.sha256,
      bytes: written.bytes,
      records: 1,
      contentType: 'text/html; charset=utf-8',
    };
    manifest.artifacts.push(ref);
    manifest.artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  } catch (error) {
    manifest.gaps.push({
      source: REPORT_SOURCE,
      reason: 'error',
      detail: `the report could not be written at sealing (${describeError(error).slice(0, 300)}); the evidence is complete without it: write it with aks-evidence report <bundle>`,
    });
  }
}

/** A name no earlier attempt of this seal used: evidence is never overwritten. */
async function freePath(store: EvidenceStore): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const path = attempt === 1 ? SEALED_REPORT_PATH : `report.attempt-${attempt}.html`;
    if (!(await store.stat(path))) return path;
  }
}
