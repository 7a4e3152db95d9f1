import { createHash } from 'node:crypto';
import type { CollectionRequestRecord, IncidentResolutionRecord } from '../evidence/types.js';
import { SOURCES } from '../sources/registry.js';
import { isSafeId } from '../pipeline/runId.js';
import { RESOURCE_GROUP_PATTERN, SUBSCRIPTION_ID_PATTERN, type ClusterRef } from '../cluster/clusterRef.js';
import { alertFromRest, type IncidentAlert } from './incident/alerts.js';
import { isObject, MAX_ENTITIES_PER_LIST, prop, propsOf, readEntityList, type EntityView, type Json } from './incident/entities.js';
import { PROBLEM_TYPES, capProblems, type FieldProblem, type ProblemDetails } from './problem.js';
import { parsePreserveFor, type RequestDefaults } from './schema.js';
import { appendAll } from '../util/arrays.js';

/**
 * A Microsoft Sentinel incident, as the incident trigger of a playbook (Logic App) forwards
 * it, validated the way the HTTP API validates its own fields: every string bounded and
 * checked against what Sentinel can send, every array capped, each problem naming its field.
 *
 * The trigger body: { objectSchemaType: "Incident", objectEventType, workspaceId,
 * workspaceInfo: { SubscriptionId, ResourceGroupName, WorkspaceName }, object: { id (the
 * incident ARM id), name, type, properties: { title, severity, incidentNumber,
 * relatedEntities[], Alerts[], additionalData, ... } } }. Playbooks often forward only
 * `object` (or put it under `incident`): both are accepted.
 *
 * The body does not carry the alerts' own entities (where Defender for Containers names the
 * cluster, namespace and pod); shared/request/incident/resolve.ts reads them from Sentinel.
 */

export interface SentinelIncidentInfo {
  /** Incident ARM id: /subscriptions/…/workspaces/<ws>/providers/Microsoft.SecurityInsights/Incidents/<name>. */
  incidentId: string;
  /** The incident's workspace, from its ARM id. */
  workspace: { subscriptionId: string; resourceGroup: string; name: string; resourceId: string };
  /** The incident's own name (last segment of its id, usually a GUID). */
  incidentName: string;
  incidentNumber?: number;
  title?: string;
  severity?: 'High' | 'Medium' | 'Low' | 'Informational';
  /** The incident's status when the trigger fired: a closed incident stops its runs' preservation windows. */
  status?: 'New' | 'Active' | 'Closed';
  /** Log Analytics workspace GUID (the trigger's workspaceId). */
  workspaceId?: string;
  /** UTC RFC 3339. */
  createdTimeUtc?: string;
  firstActivityTimeUtc?: string;
}

/** The incident as received: its facts, and what the body carried about alerts and entities. */
export interface ParsedSentinelIncident {
  incident: SentinelIncidentInfo;
  alerts: IncidentAlert[];
  relatedEntities: EntityView[];
  /** "force": true in the body. */
  force: boolean;
  /** "preserveFor" in the body: the runs keep preserving for this long after their seal (seconds). */
  preserveForSeconds?: number;
}

export type SentinelParseResult = ({ ok: true } & ParsedSentinelIncident) | { ok: false; problem: ProblemDetails };

/** A Sentinel incident groups at most 150 alerts; anything far above is not an incident. */
export const MAX_INCIDENT_ALERTS = 500;
/** Titles longer than the HTTP API's reason field are refused. */
export const MAX_TITLE_CHARS = 2048;
/** The SecurityAlert Entities JSON string of one alert, at most (bytes of text). */
const MAX_ENTITIES_JSON_CHARS = 4 * 1024 * 1024;

const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'] as const;
const STATUSES = ['New', 'Active', 'Closed'] as const;
/** Incident names are GUIDs; anything else must still be a safe path segment. */
const INCIDENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** Log Analytics workspace names: 4-63 letters, digits and "-", starting and ending with a letter or digit. */
export const WORKSPACE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/;
const INCIDENT_ID =
  /^\/subscriptions\/([^/]{1,64})\/resourcegroups\/([^/]{1,90})\/providers\/microsoft\.operationalinsights\/workspaces\/([^/]{1,63})\/providers\/microsoft\.securityinsights\/incidents\/([^/]{1,128})$/i;
const EXAMPLE_INCIDENT_ID =
  '/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<workspace>/providers/Microsoft.SecurityInsights/Incidents/<guid>';

/** Where the incident object sits in what the playbook forwarded. */
function incidentObject(body: Json): Json | undefined {
  for (const c of [prop(body, 'object'), prop(body, 'incident'), body]) {
    if (isObject(c) && typeof prop(c, 'id') === 'string' && /\/providers\/microsoft\.securityinsights\/incidents\//i.test(prop(c, 'id') as string)) return c;
  }
  return undefined;
}

function parseIncidentId(value: string, problems: FieldProblem[]): { id: string; workspace: SentinelIncidentInfo['workspace']; name: string } | undefined {
  const id = value.trim();
  const m = id.length <= 512 ? INCIDENT_ID.exec(id) : null;
  const [, sub = '', rg = '', ws = '', name = ''] = m ?? [];
  const bad = (why: string) => {
    problems.push({ field: 'object.id', message: `${why}; expected the incident ARM id ${EXAMPLE_INCIDENT_ID}` });
    return undefined;
  };
  if (!m) return bad('not a Microsoft Sentinel incident ARM id');
  if (!SUBSCRIPTION_ID_PATTERN.test(sub)) return bad('its subscription is not a GUID');
  if (!RESOURCE_GROUP_PATTERN.test(rg)) return bad('its resource group is not a valid resource group name');
  if (!WORKSPACE_NAME_PATTERN.test(ws)) return bad('its workspace is not a valid Log Analytics workspace name');
  if (!INCIDENT_NAME.test(name)) return bad('the incident name (its last segment) must be a GUID or letters, digits, "_" and "-"');
  const workspaceId = `/subscriptions/${sub.toLowerCase()}/resourceGroups/${rg}/providers/Microsoft.OperationalInsights/workspaces/${ws}`;
  return { id, name, workspace: { subscriptionId: sub.toLowerCase(), resourceGroup: rg, name: ws, resourceId: workspaceId } };
}

/** An optional string field: absent is fine; present must be a string matching `test` (its fix in `message`). */
function optionalString(value: unknown, field: string, problems: FieldProblem[], test: (s: string) => boolean, message: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !test(value.trim())) {
    problems.push({ field, message });
    return undefined;
  }
  return value.trim();
}

function optionalTime(value: unknown, field: string, problems: FieldProblem[]): string | undefined {
  const s = optionalString(value, field, problems, (v) => v.length <= 64 && !Number.isNaN(Date.parse(v)), 'must be a UTC time, e.g. "2026-11-22T09:42:31.870674Z"');
  return s ? new Date(Date.parse(s)).toISOString() : undefined;
}

/** An array field capped at `max` entries. Returns [] (and a problem) when it is not an array or too long. */
function cappedArray(value: unknown, field: string, max: number, what: string, problems: FieldProblem[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string' && what === 'entities') {
    if (value.length > MAX_ENTITIES_JSON_CHARS) {
      problems.push({ field, message: `the entities JSON is longer than ${MAX_ENTITIES_JSON_CHARS.toLocaleString('en-US')} characters` });
      return [];
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return [];
    }
    return cappedArray(parsed, field, max, what, problems);
  }
  if (!Array.isArray(value)) {
    problems.push({ field, message: `must be an array of ${what}` });
    return [];
  }
  if (value.length > max) {
    problems.push({
      field,
      message: `lists ${value.length.toLocaleString('en-US')} ${what}; at most ${max.toLocaleString('en-US')} ${what} are accepted (a Sentinel incident holds at most 150 alerts)`,
    });
    return [];
  }
  return value;
}

/** Parse and validate a forwarded Sentinel incident. Every problem is reported at once, each naming its field. */
/**
 * @param options.concurrency the deployment's load budget: a "preserveFor" in the body must leave
 *   room for the window's watch streams within it.
 */
export function parseSentinelIncident(body: unknown, options: { concurrency?: number } = {}): SentinelParseResult {
  if (!isObject(body)) {
    return { ok: false, problem: notAnIncident([{ field: '', message: 'the body must be the JSON object the Sentinel incident trigger provides' }]) };
  }
  const incident = incidentObject(body);
  if (!incident) {
    return {
      ok: false,
      problem: notAnIncident([
        {
          field: 'object.id',
          message: `required: the incident ARM id (${EXAMPLE_INCIDENT_ID}); forward the incident trigger body as is (triggerBody()), or at least its "object"`,
        },
      ]),
    };
  }
  const problems: FieldProblem[] = [];
  const base = incident === body ? '' : incident === prop(body, 'object') ? 'object.' : 'incident.';
  const props = isObject(prop(incident, 'properties')) ? (prop(incident, 'properties') as Json) : {};
  const p = `${base}properties.`;

  const id = parseIncidentId(prop(incident, 'id') as string, problems);
  const numberRaw = prop(props, 'incidentNumber');
  let incidentNumber: number | undefined;
  if (numberRaw !== undefined && numberRaw !== null) {
    const n = typeof numberRaw === 'number' ? numberRaw : typeof numberRaw === 'string' && /^\d{1,10}$/.test(numberRaw) ? Number(numberRaw) : NaN;
    if (Number.isInteger(n) && n >= 1 && n <= 2 ** 31 - 1) incidentNumber = n;
    else problems.push({ field: `${p}incidentNumber`, message: 'must be the incident number, a whole number from 1 to 2147483647' });
  }
  const title = optionalString(prop(props, 'title'), `${p}title`, problems, (s) => s.length <= MAX_TITLE_CHARS, `must be a string of at most ${MAX_TITLE_CHARS} characters`);
  const severityText = optionalString(
    prop(props, 'severity'),
    `${p}severity`,
    problems,
    (s) => SEVERITIES.some((v) => v.toLowerCase() === s.toLowerCase()),
    `must be one of ${SEVERITIES.join(', ')}`,
  );
  const severity = SEVERITIES.find((v) => v.toLowerCase() === severityText?.toLowerCase());
  const statusText = optionalString(
    prop(props, 'status'),
    `${p}status`,
    problems,
    (s) => STATUSES.some((v) => v.toLowerCase() === s.toLowerCase()),
    `must be one of ${STATUSES.join(', ')}`,
  );
  const status = STATUSES.find((v) => v.toLowerCase() === statusText?.toLowerCase());
  const createdTimeUtc = optionalTime(prop(props, 'createdTimeUtc'), `${p}createdTimeUtc`, problems);
  const firstActivityTimeUtc = optionalTime(prop(props, 'firstActivityTimeUtc'), `${p}firstActivityTimeUtc`, problems);

  // The envelope's workspace facts: validated, and they must agree with the incident id.
  const info = prop(body, 'workspaceInfo');
  if (info !== undefined && info !== null && !isObject(info)) problems.push({ field: 'workspaceInfo', message: 'must be an object' });
  const wsName = optionalString(
    prop(info, 'WorkspaceName'),
    'workspaceInfo.WorkspaceName',
    problems,
    (s) => WORKSPACE_NAME_PATTERN.test(s),
    'must be a Log Analytics workspace name: 4-63 letters, digits and "-"',
  );
  optionalString(prop(info, 'SubscriptionId'), 'workspaceInfo.SubscriptionId', problems, (s) => SUBSCRIPTION_ID_PATTERN.test(s), 'must be a subscription GUID');
  optionalString(prop(info, 'ResourceGroupName'), 'workspaceInfo.ResourceGroupName', problems, (s) => RESOURCE_GROUP_PATTERN.test(s), 'must be a resource group name');
  if (wsName && id && wsName.toLowerCase() !== id.workspace.name.toLowerCase()) {
    problems.push({ field: 'workspaceInfo.WorkspaceName', message: `names workspace "${wsName}" but the incident id is in workspace "${id.workspace.name}"` });
  }
  const workspaceId = optionalString(prop(body, 'workspaceId'), 'workspaceId', problems, (s) => SUBSCRIPTION_ID_PATTERN.test(s), 'must be the Log Analytics workspace id (a GUID)');
  const forceRaw = prop(body, 'force');
  if (forceRaw !== undefined && typeof forceRaw !== 'boolean') problems.push({ field: 'force', message: 'must be true or false' });
  const preserveRaw = prop(body, 'preserveFor');
  let preserveForSeconds: number | undefined;
  if (preserveRaw !== undefined && preserveRaw !== null) {
    if (typeof preserveRaw !== 'string' && typeof preserveRaw !== 'number')
      problems.push({ field: 'preserveFor', message: 'must be a duration like "24h" or a number of seconds' });
    else {
      const preserve = parsePreserveFor(preserveRaw, options.concurrency);
      if (preserve.ok) preserveForSeconds = preserve.value;
      else appendAll(problems, preserve.problems);
    }
  }

  // Entities and alerts: capped before anything walks them.
  const relatedRaw = cappedArray(prop(props, 'relatedEntities'), `${p}relatedEntities`, MAX_ENTITIES_PER_LIST, 'entities', problems);
  const rootEntities = incident === body ? [] : cappedArray(prop(body, 'entities'), 'entities', MAX_ENTITIES_PER_LIST, 'entities', problems);
  const alertsRaw = cappedArray(prop(props, 'alerts'), `${p}alerts`, MAX_INCIDENT_ALERTS, 'alerts', problems);
  alertsRaw.forEach((alert, a) => {
    if (!isObject(alert)) return;
    const alertProps = propsOf(alert);
    cappedArray(prop(alert, 'entities'), `${p}alerts[${a}].entities`, MAX_ENTITIES_PER_LIST, 'entities', problems);
    if (alertProps !== alert) cappedArray(prop(alertProps, 'entities', 'relatedEntities'), `${p}alerts[${a}].properties.entities`, MAX_ENTITIES_PER_LIST, 'entities', problems);
  });

  if (problems.length || !id) return { ok: false, problem: notAnIncident(capProblems(problems)) };

  const alerts: IncidentAlert[] = [];
  alertsRaw.forEach((alert, a) => {
    const parsed = alertFromRest(alert, `${p}alerts[${a}]`);
    if (parsed) alerts.push(parsed);
  });
  const relatedEntities = [...readEntityList(relatedRaw, `${p}relatedEntities`), ...readEntityList(rootEntities, 'entities')];
  return {
    ok: true,
    incident: {
      incidentId: id.id,
      workspace: id.workspace,
      incidentName: id.name,
      ...(incidentNumber !== undefined ? { incidentNumber } : {}),
      ...(title ? { title } : {}),
      ...(severity ? { severity } : {}),
      ...(status ? { status } : {}),
      ...(workspaceId ? { workspaceId: workspaceId.toLowerCase() } : {}),
      ...(createdTimeUtc ? { createdTimeUtc } : {}),
      ...(firstActivityTimeUtc ? { firstActivityTimeUtc } : {}),
    },
    alerts,
    relatedEntities,
    force: forceRaw === true,
    ...(preserveForSeconds !== undefined ? { preserveForSeconds } : {}),
  };
}

function notAnIncident(errors: FieldProblem[]): ProblemDetails {
  return {
    type: PROBLEM_TYPES.invalidRequest,
    title: 'Not a Sentinel incident',
    status: 400,
    detail:
      'The body is not a Microsoft Sentinel incident as the playbook incident trigger provides it (or a field is out of bounds); nothing was started. ' +
      'Fix each entry of "errors" and send it again.',
    errors,
  };
}

/**
 * The case id of an incident's runs: "sentinel-<incidentNumber>", else "sentinel-" and 16 hex
 * characters of the SHA-256 of the (lower-cased) incident id. Never built from a name the
 * payload chose; always matches the HTTP API's case-id pattern.
 */
export function incidentCaseId(incident: Pick<SentinelIncidentInfo, 'incidentId' | 'incidentNumber'>): string {
  const caseId =
    incident.incidentNumber !== undefined
      ? `sentinel-${incident.incidentNumber}`
      : `sentinel-${createHash('sha256').update(incident.incidentId.trim().toLowerCase()).digest('hex').slice(0, 16)}`;
  if (!isSafeId(caseId)) throw new Error(`internal: case id ${caseId} is not a safe id`);
  return caseId;
}

/** One cluster the incident leads to, with the Kubernetes targets that point into it. */
export interface IncidentClusterTarget {
  cluster: ClusterRef;
  /** Where the cluster was found: payload paths or reads, each with the way that found it. */
  foundIn: string[];
  /** K8s-namespace entities (and namespaces of pod / container entities): collected first. */
  namespaces: string[];
  /** "namespace/pod" from K8s-pod and container entities: collected first, described in full. */
  priorityPods: string[];
  /** Nodes named by the incident (Host entities of AKS nodes, scale-set VMs): their pods are collected first. */
  priorityNodes: string[];
}

const TARGETS = 'targets';

/** The collection request for one cluster of the incident. */
export function incidentRequestRecord(
  incident: SentinelIncidentInfo,
  target: IncidentClusterTarget,
  defaults: RequestDefaults = {},
  resolution?: IncidentResolutionRecord,
): CollectionRequestRecord {
  const title = incident.title ? `: ${incident.title.slice(0, 256)}` : '';
  const number = incident.incidentNumber !== undefined ? ` #${incident.incidentNumber}` : '';
  const focus = [
    target.namespaces.length ? `namespace(s) ${target.namespaces.slice(0, 10).join(', ')}` : '',
    target.priorityPods.length ? `pod(s) ${target.priorityPods.slice(0, 10).join(', ')}` : '',
    target.priorityNodes.length ? `node(s) ${target.priorityNodes.slice(0, 10).join(', ')}` : '',
  ].filter(Boolean);
  const named = target.priorityPods.length + target.namespaces.length + target.priorityNodes.length > 0;
  return {
    caseId: incidentCaseId(incident),
    requester: `Microsoft Sentinel (workspace ${incident.workspace.name})`,
    reason:
      `Sentinel incident${number}${title}${incident.severity ? ` [${incident.severity}]` : ''}${focus.length ? `; incident entities point at ${focus.join('; ')}` : ''}`.slice(
        0,
        2048,
      ),
    incidentId: incident.incidentId,
    // The targets source first (and always, when the incident named any): what it named is described before the rest.
    sources: [...(named || (defaults.sources ?? SOURCES.names()).includes(TARGETS) ? [TARGETS] : []), ...(defaults.sources ?? SOURCES.names()).filter((s) => s !== TARGETS)],
    sinceSeconds: defaults.sinceSeconds ?? 86400,
    ...(target.priorityPods.length ? { priorityPods: target.priorityPods.slice(0, 1000) } : {}),
    ...(target.namespaces.length ? { priorityNamespaces: target.namespaces.slice(0, 100) } : {}),
    ...(target.priorityNodes.length ? { priorityNodes: target.priorityNodes.slice(0, 100) } : {}),
    ...(resolution ? { incidentResolution: resolution } : {}),
    ...(defaults.concurrency !== undefined ? { concurrency: defaults.concurrency } : {}),
    ...(defaults.legalHold !== undefined ? { legalHold: defaults.legalHold } : {}),
    ...(defaults.retentionDays !== undefined ? { retentionDays: defaults.retentionDays } : {}),
  };
}
