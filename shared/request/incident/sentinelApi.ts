import { getClient, type Client } from '@azure-rest/core-client';
import type { TokenCredential } from '@azure/core-auth';
import type { ArmClientOptions } from '../../cluster/arm.js';
import { AksEvidenceError } from '../../util/errors.js';
import { arr, isObject } from './entities.js';

/**
 * The incident's alerts and entities, read from Microsoft Sentinel through ARM
 * (Microsoft.SecurityInsights, GA api-version 2024-03-01):
 *   POST {incidentId}/alerts?api-version=…   → { value: [ SecurityAlert (kind, properties) ] }
 *   POST {incidentId}/entities?api-version=… → { entities: [ Entity (kind, properties) ], metaData: [...] }
 * The caller needs Microsoft Sentinel Reader on the workspace.
 *
 * Through the Azure SDK's REST-level client (@azure-rest/core-client: bearer token, retries,
 * abort) rather than the typed @azure/arm-securityinsight, which is a preview-only beta whose
 * polymorphic entity mappers would reshape the entities this code reads as served.
 */
export const SECURITY_INSIGHTS_API_VERSION = '2024-03-01';

/** At most this many alerts / entities are taken from one answer (Sentinel groups at most 150 alerts per incident). */
const MAX_ALERTS = 500;
const MAX_ENTITIES = 5_000;

export interface SentinelIncidentReader {
  listAlerts(incidentId: string, options: { abortSignal: AbortSignal }): Promise<unknown[]>;
  listEntities(incidentId: string, options: { abortSignal: AbortSignal }): Promise<unknown[]>;
}

/** A SecurityInsights call answered something other than 200. Carries the status and ARM's error code, never the request. */
export class SentinelApiError extends AksEvidenceError {
  override name = 'SentinelApiError';
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super('ERR_SENTINEL_API', message);
    this.statusCode = statusCode;
  }
}

function armErrorText(body: unknown): string {
  const error = isObject(body) && isObject(body.error) ? body.error : undefined;
  const code = typeof error?.code === 'string' ? error.code.slice(0, 100) : '';
  const message = typeof error?.message === 'string' ? error.message.split('\n')[0]!.slice(0, 200) : '';
  return [code, message].filter(Boolean).join(': ');
}

export function createSentinelIncidentReader(credential: TokenCredential, options: ArmClientOptions = {}): SentinelIncidentReader {
  const endpoint = (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
  const client: Client = getClient(endpoint, credential, {
    credentials: { scopes: [`${(options.audience ?? endpoint).replace(/\/+$/, '')}/.default`] },
    retryOptions: { maxRetries: 2 },
    ...(options.caPem ? { tlsOptions: { ca: options.caPem } } : {}),
    ...(options.httpClient ? { httpClient: options.httpClient } : {}),
  });

  const post = async (incidentId: string, action: 'alerts' | 'entities', abortSignal: AbortSignal): Promise<unknown> => {
    // The id was validated against the incident id pattern: only [A-Za-z0-9._()/-] characters, no template braces.
    const res = await client.pathUnchecked(`${incidentId}/${action}`).post({ queryParameters: { 'api-version': SECURITY_INSIGHTS_API_VERSION }, abortSignal });
    const status = Number(res.status);
    if (status !== 200) {
      throw new SentinelApiError(status, `SecurityInsights ${action} answered HTTP ${status}${armErrorText(res.body) ? ` ${armErrorText(res.body)}` : ''}`);
    }
    return res.body;
  };

  return {
    async listAlerts(incidentId, { abortSignal }) {
      const body = await post(incidentId, 'alerts', abortSignal);
      return arr(isObject(body) ? body.value : undefined).slice(0, MAX_ALERTS);
    },
    async listEntities(incidentId, { abortSignal }) {
      const body = await post(incidentId, 'entities', abortSignal);
      return arr(isObject(body) ? body.entities : undefined).slice(0, MAX_ENTITIES);
    },
  };
}
