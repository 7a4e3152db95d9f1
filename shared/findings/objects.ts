import { createReadStream } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, createGunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import type { K8sObject } from './types.js';
import { appendAll } from '../util/arrays.js';

/**
 * Loads Kubernetes objects from what a responder is handed: `kubectl get -o yaml|json`
 * output (`kind: List`, `*List`), multi-document YAML, single objects, JSON arrays,
 * NDJSON of raw objects (the evidence bundle's `*.raw.ndjson.gz`), and directories of them.
 * Bad input is reported by file and line/document and skipped; the other files still load.
 * Secret values never leave this module: Secrets are reduced to their metadata and data keys.
 */

/** Where an object came from, for messages. */

/** Bundle sources whose raw artifacts hold no Kubernetes API objects. */
const NON_OBJECT_SOURCES: ReadonlySet<string> = new Set(['commandhistory', 'audit']);
export interface ObjectOrigin {
  file: string;
  /** 1-based YAML document number. */
  document?: number;
  /** 1-based line where the document / NDJSON record starts. */
  line?: number;
  /** 0-based index inside a List or array. */
  item?: number;
}

/** Something that could not be used. `fatal` = the input could not be read or parsed (CLI exit 2). */
export interface SkippedInput extends ObjectOrigin {
  reason: string;
  fatal: boolean;
}

export interface LocatedObject {
  object: K8sObject;
  origin: ObjectOrigin;
}

export interface LoadedObjects {
  objects: K8sObject[];
  /** Same order as objects. */
  origins: ObjectOrigin[];
  /** Files read, with the number of objects each gave. */
  files: { file: string; objects: number }[];
  skipped: SkippedInput[];
  /**
   * Objects dropped because the same object (kind + uid, or kind + namespace/name without uid)
   * was already loaded, e.g. from several raw artifacts of one evidence bundle. The first is kept.
   */
  duplicates: number;
}

export type InputFormat = 'yaml' | 'json' | 'ndjson';

const OBJECT_EXTENSIONS = ['.yaml', '.yml', '.json', '.ndjson', '.jsonl'];

/** Load every object from files and directories (recursive). Never throws for bad input. */
export async function loadObjects(paths: readonly string[]): Promise<LoadedObjects> {
  const result: LoadedObjects = { objects: [], origins: [], files: [], skipped: [], duplicates: 0 };
  const seenDirs = new Set<string>();
  for (const p of paths) await loadPath(p, true, result, seenDirs);
  const seen = new Set<string>();
  const objects: K8sObject[] = [];
  const origins: ObjectOrigin[] = [];
  result.objects.forEach((object, i) => {
    const m = object.metadata;
    const key = `${object.kind}|${m.uid ?? `${m.namespace ?? ''}/${m.name}`}`;
    if (seen.has(key)) {
      result.duplicates++;
      return;
    }
    seen.add(key);
    objects.push(object);
    origins.push(result.origins[i]!);
  });
  result.objects = objects;
  result.origins = origins;
  return result;
}

async function loadPath(p: string, explicit: boolean, result: LoadedObjects, seenDirs: Set<string>): Promise<void> {
  let info;
  try {
    info = await stat(p);
  } catch (error) {
    result.skipped.push({ file: p, reason: `cannot read: ${errnoText(error)}`, fatal: true });
    return;
  }
  if (info.isDirectory()) {
    const real = await realpath(p).catch(() => p);
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let entries;
    try {
      entries = await readdir(p, { withFileTypes: true });
    } catch (error) {
      result.skipped.push({ file: p, reason: `cannot list directory: ${errnoText(error)}`, fatal: true });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // An evidence bundle: its API objects are the raw artifacts under sources/; the manifest,
    // custody records and ingestion receipts are bookkeeping, not Kubernetes objects.
    const bundleRoot = entries.some((e) => e.isFile() && e.name === 'manifest.json');
    const bundleSources =
      path.basename(p) === 'sources' &&
      (await stat(path.join(p, '..', 'manifest.json')).then(
        (s) => s.isFile(),
        () => false,
      ));
    for (const entry of entries) {
      if (bundleRoot && entry.name !== 'sources') continue;
      // Their raw records are history files and audit events, not API objects.
      if (bundleSources && NON_OBJECT_SOURCES.has(entry.name)) continue;
      const child = path.join(p, entry.name);
      if (entry.isDirectory() || entry.isSymbolicLink()) {
        await loadPath(child, false, result, seenDirs);
      } else if (entry.isFile() && isObjectFileName(entry.name)) {
        await loadPath(child, false, result, seenDirs);
      }
    }
    return;
  }
  if (!info.isFile()) {
    if (explicit) result.skipped.push({ file: p, reason: 'not a regular file or directory', fatal: true });
    return;
  }
  if (!explicit && !isObjectFileName(path.basename(p))) return;
  // Inside a directory walk, a bundle's task summaries and row artifacts are passed over quietly.
  if (!explicit && /\.(summary\.json|rows\.ndjson(\.gz)?)$/i.test(p)) return;
  if (/\.rows\.ndjson(\.gz)?$/i.test(p)) {
    // Evidence bundle row artifacts are Log Analytics rows, not API objects.
    result.skipped.push({ file: p, reason: 'evidence rows artifact (Log Analytics rows, not Kubernetes objects); use the *.raw.ndjson.gz beside it', fatal: false });
    return;
  }
  const before = result.objects.length;
  await loadFile(p, result);
  result.files.push({ file: p, objects: result.objects.length - before });
}

function isObjectFileName(name: string): boolean {
  const base = name.toLowerCase().replace(/\.gz$/, '');
  return OBJECT_EXTENSIONS.some((ext) => base.endsWith(ext));
}

function formatFromName(file: string): InputFormat | undefined {
  const base = file.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.yaml') || base.endsWith('.yml')) return 'yaml';
  if (base.endsWith('.ndjson') || base.endsWith('.jsonl')) return 'ndjson';
  if (base.endsWith('.json')) return 'json';
  return undefined;
}

async function loadFile(file: string, result: LoadedObjects): Promise<void> {
  const gz = file.toLowerCase().endsWith('.gz');
  const format = formatFromName(file);
  const add = (located: LocatedObject): void => {
    result.objects.push(located.object);
    result.origins.push(located.origin);
  };
  if (format === 'ndjson') {
    // Streamed line by line: raw artifacts can be large.
    try {
      await streamNdjson(file, gz, add, result.skipped);
    } catch (error) {
      result.skipped.push({ file, reason: `cannot read: ${errnoText(error)}`, fatal: true });
    }
    return;
  }
  let text: string;
  try {
    const bytes = await readFile(file);
    text = (gz ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (error) {
    result.skipped.push({ file, reason: `cannot read: ${errnoText(error)}`, fatal: true });
    return;
  }
  const parsed = parseObjectsText(text, file, format);
  parsed.objects.forEach(add);
  appendAll(result.skipped, parsed.problems);
}

async function streamNdjson(file: string, gz: boolean, add: (located: LocatedObject) => void, problems: SkippedInput[]): Promise<void> {
  const input = createReadStream(file);
  const source = gz ? input.pipe(createGunzip()) : input;
  const failure = new Promise<never>((_, reject) => {
    input.on('error', reject);
    source.on('error', reject);
  });
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  let lineNumber = 0;
  const consume = (async () => {
    for await (const line of lines) {
      lineNumber++;
      parseNdjsonLine(line, file, lineNumber, add, problems);
    }
  })();
  await Promise.race([consume, failure]);
}

function parseNdjsonLine(line: string, file: string, lineNumber: number, add: (located: LocatedObject) => void, problems: SkippedInput[]): void {
  if (line.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    problems.push({ file, line: lineNumber, reason: `invalid JSON: ${jsonErrorText(error)}`, fatal: true });
    return;
  }
  collect(value, { file, line: lineNumber }, add, problems);
}

/**
 * Parse one file's text. `format` undefined = sniff: a leading '{' or '[' is JSON (or NDJSON),
 * anything else YAML.
 */
export function parseObjectsText(text: string, file: string, format?: InputFormat): { objects: LocatedObject[]; problems: SkippedInput[] } {
  const objects: LocatedObject[] = [];
  const problems: SkippedInput[] = [];
  const add = (located: LocatedObject): void => void objects.push(located);
  const body = text.replace(/^\uFEFF/, '');
  const first = body.trimStart()[0];
  const effective: InputFormat = format ?? (first === '{' || first === '[' ? 'json' : 'yaml');

  if (effective === 'ndjson') {
    body.split(/\r?\n/).forEach((line, i) => parseNdjsonLine(line, file, i + 1, add, problems));
    return { objects, problems };
  }
  if (effective === 'json') {
    if (body.trim() === '') return { objects, problems };
    try {
      collect(JSON.parse(body), { file }, add, problems);
      return { objects, problems };
    } catch (error) {
      // NDJSON saved as .json: several complete objects, one a line.
      const lines = body.split(/\r?\n/).filter((l) => l.trim() !== '');
      if (lines.length > 1 && lines.every((l) => l.trimStart().startsWith('{'))) {
        const ndjson = parseObjectsText(body, file, 'ndjson');
        if (ndjson.problems.every((p) => !p.fatal)) return ndjson;
      }
      const position = jsonErrorLine(error, body);
      problems.push({ file, ...(position ? { line: position } : {}), reason: `invalid JSON: ${jsonErrorText(error)}`, fatal: true });
      return { objects, problems };
    }
  }

  const { LineCounter, parseAllDocuments } = loadYaml();
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(body, { lineCounter, prettyErrors: true });
  const docs = Array.isArray(documents) ? documents : [];
  docs.forEach((doc, index) => {
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const origin: ObjectOrigin = { file, document: index + 1, line: lineCounter.linePos(start).line };
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      const line = err.linePos?.[0]?.line ?? origin.line;
      problems.push({ file, document: index + 1, ...(line ? { line } : {}), reason: `invalid YAML: ${firstLine(err.message)}`, fatal: true });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (error) {
      problems.push({ ...origin, reason: `invalid YAML: ${firstLine(errnoText(error))}`, fatal: true });
      return;
    }
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    collect(value, origin, add, problems);
  });
  return { objects, problems };
}

/** Flatten Lists and arrays into objects; report what is not a Kubernetes object. */
function collect(
  value: unknown,
  origin: ObjectOrigin,
  add: (located: LocatedObject) => void,
  problems: SkippedInput[],
  listContext?: { kind?: string; apiVersion?: string },
): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => collect(item, { ...origin, item: i }, add, problems, listContext));
    return;
  }
  if (!isRecord(value)) {
    problems.push({ ...origin, reason: 'not a Kubernetes object (not a mapping)', fatal: false });
    return;
  }
  // An evidence raw record may wrap the object: { object: {...}, ... }.
  if (value.kind === undefined && value.metadata === undefined && isRecord(value.object)) {
    collect(value.object, origin, add, problems, listContext);
    return;
  }
  const kind = typeof value.kind === 'string' ? value.kind : undefined;
  if (Array.isArray(value.items) && (kind === undefined || kind === 'List' || kind.endsWith('List'))) {
    // A typed list (RoleList, PodList) names its items' kind and apiVersion; `kind: List` does not.
    const itemKind = kind && kind !== 'List' ? kind.slice(0, -'List'.length) : undefined;
    const context = itemKind ? { kind: itemKind, ...(typeof value.apiVersion === 'string' ? { apiVersion: value.apiVersion } : {}) } : undefined;
    value.items.forEach((item, i) => collect(item, { ...origin, item: i }, add, problems, context));
    return;
  }
  const object = { ...value } as Record<string, unknown>;
  // Items of typed lists (kubectl get -o json of one type, API list responses) omit kind.
  if (object.kind === undefined && listContext?.kind) object.kind = listContext.kind;
  if (object.apiVersion === undefined && listContext?.apiVersion) object.apiVersion = listContext.apiVersion;
  const problem = kubeObjectProblem(object);
  if (problem) {
    problems.push({ ...origin, reason: `not a Kubernetes object: ${problem}`, fatal: false });
    return;
  }
  add({ object: redactSecret(object as K8sObject), origin });
}

/**
 * The YAML parser, loaded on first use: collections import this module for asKubeObject and
 * never parse YAML, and loading the parser costs ~28 ms and ~10 MB at start-up (docs/performance.md).
 */
let yaml: typeof import('yaml') | undefined;
function loadYaml(): typeof import('yaml') {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml;
}

/** A value as a Kubernetes object (Secrets redacted), or undefined when it is not one. */
export function asKubeObject(value: unknown): K8sObject | undefined {
  if (!isRecord(value) || kubeObjectProblem(value)) return undefined;
  return redactSecret(value as K8sObject);
}

function kubeObjectProblem(value: Record<string, unknown>): string | undefined {
  if (typeof value.kind !== 'string' || value.kind === '') return 'missing kind';
  if (!isRecord(value.metadata)) return `${value.kind} without metadata`;
  if (typeof value.metadata.name !== 'string' || value.metadata.name === '') return `${value.kind} without metadata.name`;
  if (value.metadata.namespace !== undefined && typeof value.metadata.namespace !== 'string') return `${value.kind} ${value.metadata.name}: metadata.namespace is not a string`;
  return undefined;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Secrets keep metadata and data key names only: values (and the last-applied annotation,
 * which repeats them) are dropped so nothing downstream can print them.
 */
export function redactSecret(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret') return object;
  const keys = (v: unknown): string[] => (isRecord(v) ? Object.keys(v).sort() : []);
  const { data, stringData, ...rest } = object;
  const annotations = { ...(object.metadata.annotations ?? {}) };
  delete annotations[LAST_APPLIED];
  const redacted: K8sObject = {
    ...rest,
    metadata: { ...object.metadata, ...(object.metadata.annotations ? { annotations } : {}) },
  };
  const dataKeys = [...new Set([...keys(data), ...keys(stringData)])];
  if (dataKeys.length > 0) redacted.data = Object.fromEntries(dataKeys.map((k) => [k, '<redacted>']));
  return redacted;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The message of anything thrown (errors from node core are not `instanceof Error` in every realm). */
function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}

function errnoText(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const message = messageOf(error);
  return typeof code === 'string' && !message.startsWith(code) ? `${code}: ${message}` : message;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function jsonErrorText(error: unknown): string {
  // Messages of JSON.parse quote the offending input; keep only the position part so a
  // Secret value in a malformed dump never reaches the terminal.
  const message = messageOf(error);
  const position = /position (\d+)/.exec(message);
  if (/Unexpected end/i.test(message)) return 'unexpected end of input';
  return position ? `unexpected token at position ${position[1]}` : 'syntax error';
}

function jsonErrorLine(error: unknown, text: string): number | undefined {
  const message = messageOf(error);
  const line = /line (\d+)/.exec(message);
  if (line) return Number(line[1]);
  const position = /position (\d+)/.exec(message);
  if (!position) return undefined;
  return text.slice(0, Number(position[1])).split('\n').length;
}
