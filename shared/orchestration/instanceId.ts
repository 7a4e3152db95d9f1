import { createHash, randomUUID } from 'node:crypto';
import { clusterKey, type ClusterRef } from '../cluster/clusterRef.js';

/**
 * Durable instance ids double as run ids (evidence paths <caseId>/<runId>/...). They are
 * derived from what identifies a collection, so a repeated trigger maps to the same
 * instance: 32 lower-case hex characters (128 bits of SHA-256), never / \ ? # or control
 * characters, which Durable Functions forbids.
 */
export const RUN_ID_PATTERN = /^[0-9a-f]{32}$/;

function digest(kind: string, parts: readonly string[]): string {
  const h = createHash('sha256');
  h.update(`aks-evidence/${kind}/v1`);
  for (const p of parts) h.update(`\u0000${p}`);
  return h.digest('hex').slice(0, 32);
}

/** One run per cluster and case (ARM ids compared case-insensitively; case ids exactly). */
export function collectionInstanceId(cluster: ClusterRef, caseId: string): string {
  return digest('collection', [clusterKey(cluster), caseId]);
}

/** One run per Sentinel incident and cluster (both ARM ids, compared case-insensitively). */
export function incidentInstanceId(incidentArmId: string, cluster: ClusterRef): string {
  return digest('sentinel-incident', [incidentArmId.trim().toLowerCase(), clusterKey(cluster)]);
}

/**
 * A forced run: a new instance even though a run for the same key exists. Still derived from
 * the key (so it is traceable to it) plus a random nonce.
 */
export function forcedInstanceId(baseInstanceId: string, nonce: string = randomUUID()): string {
  return digest('forced', [baseInstanceId, nonce]);
}

export function isRunId(value: string): boolean {
  return RUN_ID_PATTERN.test(value);
}

/**
 * The n-th attempt (n >= 2) of a collection whose earlier attempts Failed or were Terminated:
 * its own instance id, so its own run id and bundle path. Derived from the base id and n, so
 * every trigger finds the same chain of attempts.
 */
export function attemptInstanceId(baseInstanceId: string, attempt: number): string {
  if (attempt <= 1) return baseInstanceId;
  return digest('attempt', [baseInstanceId, String(attempt)]);
}
