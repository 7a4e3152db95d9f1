import type { TokenCredential } from '@azure/core-auth';
import type { LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import type { CustodyLog } from '../evidence/custody.js';
import { readSmallArtifact } from '../evidence/manifest.js';
import { TIMESTAMP_PATH } from '../evidence/timestamp.js';
import type { EvidenceStore, Manifest } from '../evidence/types.js';
import type { IngestionTarget } from '../ingestion/config.js';
import { sendCustodyRow } from '../ingestion/custodyAnchor.js';
import { describeError, redactUrl } from '../util/errors.js';
import type { AnchorOutcome, SealAnchors, SealResult } from './types.js';

export type { AnchorOutcome, SealAnchors } from './types.js';

export interface AnchorSealOptions {
  store: EvidenceStore;
  sealed: SealResult & { manifest: Pick<Manifest, 'cluster' | 'custody' | 'previousAttempt'> };
  custody: CustodyLog;
  /** RFC 3161 Time-Stamping Authority URL (--tsa, AKS_EVIDENCE_TSA_URL). */
  tsaUrl?: string;
  /** Where the custody row goes (the same DCE/DCR target as the evidence rows). */
  ingestion?: { target: IngestionTarget; credential: TokenCredential; clientOptions?: LogsIngestionClientOptions };
  abortSignal?: AbortSignal;
}

/**
 * Right after sealing: timestamp the manifest's hash with the configured TSA (stored as
 * manifest.json.tsr) and send the Log Analytics custody row. Each is recorded in custody
 * when it happened. Failures are data: the seal stands, the outcome and the custody log say
 * which anchor is missing and why. Idempotent: a timestamp already stored is kept.
 */
export async function anchorSeal(options: AnchorSealOptions): Promise<SealAnchors> {
  const { store, sealed, custody } = options;
  let timestamp: AnchorOutcome = { status: 'not-configured', detail: 'no time-stamping authority configured' };
  if (options.tsaUrl) {
    const { requestTimestamp } = await import('../evidence/timestamp.js');
    try {
      if (await store.stat(TIMESTAMP_PATH)) {
        const { checkTimestamp } = await import('../evidence/timestamp.js');
        const check = await checkTimestamp(await readSmallArtifact(store, TIMESTAMP_PATH, 1024 * 1024), await readSmallArtifact(store, sealed.manifestPath, 256 * 1024 * 1024));
        timestamp =
          check.status === 'failed'
            ? { status: 'failed', detail: `${TIMESTAMP_PATH} already exists and does not timestamp this manifest: ${check.detail}` }
            : { status: 'anchored', detail: `${TIMESTAMP_PATH} already stored (${check.genTime ?? ''})` };
      } else {
        const der = await requestTimestamp({ url: options.tsaUrl, sha256: sealed.manifestSha256, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
        const written = await store.writeArtifact(TIMESTAMP_PATH, der, {
          contentType: 'application/timestamp-reply',
          metadata: { kind: 'rfc3161-timestamp', runId: sealed.runId, caseId: sealed.caseId },
        });
        await store.protect?.(TIMESTAMP_PATH);
        await custody.record('timestamp-anchored', { tsa: redactUrl(options.tsaUrl), path: TIMESTAMP_PATH, tokenSha256: written.sha256, manifestSha256: sealed.manifestSha256 });
        timestamp = { status: 'anchored', detail: `manifest sha256 timestamped by ${redactUrl(options.tsaUrl)}; token in ${TIMESTAMP_PATH}` };
      }
    } catch (error) {
      timestamp = { status: 'failed', detail: `no timestamp: ${describeError(error)}` };
      await custody.record('timestamp-failed', { tsa: redactUrl(options.tsaUrl), detail: timestamp.detail }).catch(() => undefined);
    }
  }

  let logAnalytics: AnchorOutcome = { status: 'not-configured', detail: 'no ingestion target configured' };
  if (options.ingestion) {
    const outcome = await sendCustodyRow(sealed, sealed.manifest, {
      target: options.ingestion.target,
      credential: options.ingestion.credential,
      ...(options.ingestion.clientOptions ? { clientOptions: options.ingestion.clientOptions } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    logAnalytics = { status: outcome.status === 'sent' ? 'anchored' : outcome.status, detail: outcome.detail };
    if (outcome.status !== 'not-configured') {
      await custody
        .record('log-analytics-anchored', { status: outcome.status, detail: outcome.detail, manifestSha256: sealed.manifestSha256, chainHead: sealed.chainHead })
        .catch(() => undefined);
    }
  }
  return { timestamp, logAnalytics };
}
