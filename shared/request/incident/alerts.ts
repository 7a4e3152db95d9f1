import { arr, isObject, prop, propsOf, readEntityList, resourceIdOf, str, type EntityView, type Json } from './entities.js';

/**
 * One alert of the incident, merged from wherever it was read: the trigger body's alerts,
 * the SecurityInsights `incidents/{id}/alerts` API (same REST shape: kind SecurityAlert,
 * properties with systemAlertId, resourceIdentifiers, additionalData), and the SecurityAlert
 * row in Log Analytics (Entities as a JSON string with $id/$ref, ExtendedProperties as a JSON
 * string, ResourceId). Alerts are merged by systemAlertId.
 */
export interface IncidentAlert {
  /** Merge key: the lower-cased systemAlertId, else where the alert came from. */
  key: string;
  systemAlertId?: string;
  displayName?: string;
  productName?: string;
  /** Where it was first read, e.g. "object.properties.alerts[0]" or "SecurityInsights alerts[2]". */
  path: string;
  /** ARM ids the alert is about: resourceIdentifiers (AzureResource) and the SecurityAlert ResourceId column. */
  resourceIds: { id: string; path: string }[];
  entities: EntityView[];
  /** A scheduled analytic rule's query and window (ExtendedProperties / additionalData). */
  query?: AlertQuery;
}

export interface AlertQuery {
  /** The query as the rule ran it (Sentinel prefixes `set query_now = …;`). */
  text: string;
  /** For alert-per-event grouping Sentinel puts the events in a datatable; OriginalQuery is the rule's own query. */
  originalText?: string;
  /** The rule's window, UTC. */
  start: string;
  end: string;
  path: string;
}

/** Queries longer than this are not re-run (the service's own limit on query text is far below any real rule). */
const MAX_QUERY_CHARS = 100_000;
const GUIDISH = /^[A-Za-z0-9_.:-]{1,128}$/;

/** "2023-07-24 15:23:59Z" (Sentinel's format) or RFC 3339 → RFC 3339, else undefined. */
export function sentinelTime(value: unknown): string | undefined {
  const s = str(value, 64);
  if (!s) return undefined;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2} \d/.test(s) ? s.replace(' ', 'T') : s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** ExtendedProperties (a JSON string in SecurityAlert) or additionalData (an object in the REST shape) → object. */
function extendedProperties(value: unknown): Json | undefined {
  if (isObject(value)) return value;
  if (typeof value === 'string' && value.length <= 4 * MAX_QUERY_CHARS) {
    try {
      const parsed: unknown = JSON.parse(value);
      return isObject(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function queryOf(ext: Json | undefined, path: string): AlertQuery | undefined {
  if (!ext) return undefined;
  const text = str(prop(ext, 'Query'), MAX_QUERY_CHARS);
  const start = sentinelTime(prop(ext, 'Query Start Time UTC'));
  const end = sentinelTime(prop(ext, 'Query End Time UTC'));
  if (!text || !start || !end || !(start < end)) return undefined;
  const original = str(prop(ext, 'OriginalQuery'), MAX_QUERY_CHARS);
  return { text, ...(original && original !== text ? { originalText: original } : {}), start, end, path };
}

function resourceIdentifiers(props: Json, path: string): { id: string; path: string }[] {
  const out: { id: string; path: string }[] = [];
  arr(prop(props, 'resourceIdentifiers'))
    .slice(0, 100)
    .forEach((ri, r) => {
      if (!isObject(ri)) return;
      const id = resourceIdOf(ri);
      if (id && id.startsWith('/')) out.push({ id, path: `${path}.resourceIdentifiers[${r}]` });
    });
  return out;
}

/** An alert in Sentinel's REST shape (trigger body alerts, the incident alerts API). */
export function alertFromRest(raw: unknown, path: string): IncidentAlert | undefined {
  if (!isObject(raw)) return undefined;
  const props = propsOf(raw);
  const systemAlertId = str(prop(props, 'systemAlertId'), 128) ?? str(prop(raw, 'name'), 128);
  const id = systemAlertId && GUIDISH.test(systemAlertId) ? systemAlertId : undefined;
  const propsPath = props === raw ? path : `${path}.properties`;
  const entities = [
    ...readEntityList(prop(raw, 'entities'), `${path}.entities`),
    ...(props !== raw ? readEntityList(prop(props, 'entities', 'relatedEntities'), `${propsPath}.entities`) : []),
  ];
  const query = queryOf(extendedProperties(prop(props, 'additionalData')), `${propsPath}.additionalData`);
  const displayName = str(prop(props, 'alertDisplayName', 'displayName'), 256);
  const productName = str(prop(props, 'productName'), 128);
  return {
    key: id ? id.toLowerCase() : path,
    ...(id ? { systemAlertId: id } : {}),
    ...(displayName ? { displayName } : {}),
    ...(productName ? { productName } : {}),
    path,
    resourceIds: resourceIdentifiers(props, propsPath),
    entities,
    ...(query ? { query } : {}),
  };
}

/** A SecurityAlert row (columns by name) from Log Analytics. */
export function alertFromSecurityAlertRow(row: Json, path: string): IncidentAlert | undefined {
  const systemAlertId = str(row.SystemAlertId, 128);
  if (!systemAlertId || !GUIDISH.test(systemAlertId)) return undefined;
  const resourceId = str(row.ResourceId, 2048);
  const query = queryOf(extendedProperties(row.ExtendedProperties), `${path}.ExtendedProperties`);
  const displayName = str(row.DisplayName ?? row.AlertName, 256);
  const productName = str(row.ProductName, 128);
  return {
    key: systemAlertId.toLowerCase(),
    systemAlertId,
    ...(displayName ? { displayName } : {}),
    ...(productName ? { productName } : {}),
    path,
    resourceIds: resourceId && resourceId.startsWith('/') ? [{ id: resourceId, path: `${path}.ResourceId` }] : [],
    entities: readEntityList(row.Entities, `${path}.Entities`),
    ...(query ? { query } : {}),
  };
}

/** Merge alerts read from several places: one per systemAlertId, everything each read knew. */
export function mergeAlerts(alerts: Iterable<IncidentAlert>): IncidentAlert[] {
  const byKey = new Map<string, IncidentAlert>();
  for (const a of alerts) {
    const seen = byKey.get(a.key);
    if (!seen) {
      byKey.set(a.key, { ...a, resourceIds: [...a.resourceIds], entities: [...a.entities] });
      continue;
    }
    for (const r of a.resourceIds) if (!seen.resourceIds.some((x) => x.id.toLowerCase() === r.id.toLowerCase())) seen.resourceIds.push(r);
    for (const e of a.entities) seen.entities.push(e);
    seen.query ??= a.query;
    seen.displayName ??= a.displayName;
    seen.productName ??= a.productName;
  }
  return [...byKey.values()];
}
