import { jsonPatchAsObject } from './patchView.js';
import type { AuditEvent, ExecDetails } from './types.js';

/**
 * What an interactive request ran: the first question of a responder. Exec, attach and
 * port-forward carry their options as query parameters of the request URI
 * (`/api/v1/namespaces/prod/pods/api-1/exec?command=%2Fbin%2Fsh&command=-c&command=id&container=api&stdin=true&tty=true`,
 * one `command=` per argument, Go's query encoding: `+` is a space), or — in some exports and
 * clients — as a PodExecOptions body (requestObject.command). `kubectl debug` adds an ephemeral
 * container through the pods/ephemeralcontainers subresource: its command, args, image and
 * target container are in the request body.
 */

const SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

function bool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
  }
  return undefined;
}

function strings(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map(String);
  if (typeof value === 'string' && value !== '') return [value];
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** argv as one line a shell would read back: plain words bare, the rest single-quoted. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function queryOf(requestURI: string): URLSearchParams | undefined {
  const q = requestURI.indexOf('?');
  if (q < 0) return undefined;
  try {
    return new URLSearchParams(requestURI.slice(q + 1));
  } catch {
    return undefined;
  }
}

function setFlags(out: ExecDetails, source: { get(name: string): unknown }): void {
  for (const name of ['tty', 'stdin', 'stdout', 'stderr'] as const) {
    if (out[name] !== undefined) continue;
    const v = bool(source.get(name));
    if (v !== undefined) out[name] = v;
  }
}

/** The ephemeral container a debug request adds: the last one named in the body (a patch names only the new one). */
function debugContainer(body: unknown): Record<string, unknown> | undefined {
  const obj = isRecord(body) ? body : jsonPatchAsObject(body);
  const spec = obj && isRecord(obj.spec) ? obj.spec : undefined;
  const list = spec && Array.isArray(spec.ephemeralContainers) ? spec.ephemeralContainers.filter(isRecord) : [];
  if (list.length) return list[list.length - 1];
  // A JSON patch appending one container: {"op":"add","path":"/spec/ephemeralContainers/-","value":{...}}
  if (Array.isArray(body)) {
    for (let i = body.length - 1; i >= 0; i--) {
      const op = body[i] as { path?: unknown; value?: unknown };
      if (typeof op?.path === 'string' && op.path.startsWith('/spec/ephemeralContainers') && isRecord(op.value)) return op.value;
    }
  }
  return undefined;
}

/** The exec / attach / port-forward / debug details of an audit event, or undefined for any other request. */
export function execDetailsOf(event: AuditEvent): ExecDetails | undefined {
  const ref = event.objectRef;
  if (ref?.resource !== 'pods' || (ref.apiGroup ?? '') !== '') return undefined;
  const sub = ref.subresource ?? '';
  if (SUBRESOURCES.has(sub)) {
    const out: ExecDetails = { kind: sub as 'exec' | 'attach' | 'portforward', command: [], commandLine: '' };
    if (ref.namespace) out.namespace = ref.namespace;
    if (ref.name) out.pod = ref.name;
    const query = queryOf(event.requestURI ?? '');
    const body = isRecord(event.requestObject) ? event.requestObject : undefined;
    out.command = query?.getAll('command') ?? [];
    if (out.command.length === 0 && body) out.command = strings(body.command);
    const container = query?.get('container') ?? (typeof body?.container === 'string' ? body.container : undefined);
    if (container) out.container = container;
    if (query) setFlags(out, query);
    if (body) setFlags(out, { get: (n) => body[n] });
    if (sub === 'portforward') {
      const ports = [...(query?.getAll('ports') ?? []), ...strings(body?.ports)];
      if (ports.length) out.ports = ports;
    }
    out.commandLine = shellQuote(out.command);
    return out;
  }
  if (sub === 'ephemeralcontainers') {
    const c = debugContainer(event.requestObject);
    const out: ExecDetails = { kind: 'debug', command: [], commandLine: '' };
    if (ref.namespace) out.namespace = ref.namespace;
    if (ref.name) out.pod = ref.name;
    if (c) {
      out.command = [...strings(c.command), ...strings(c.args)];
      if (typeof c.name === 'string') out.container = c.name;
      if (typeof c.image === 'string') out.image = c.image;
      if (typeof c.targetContainerName === 'string') out.targetContainer = c.targetContainerName;
      setFlags(out, { get: (n) => c[n] });
    }
    out.commandLine = shellQuote(out.command);
    return out;
  }
  return undefined;
}
