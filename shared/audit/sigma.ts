import { readdir, readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { InputError } from '../util/errors.js';
import { isCidr } from './rules.js';
import { parseCondition, SigmaConditionError, type ConditionNode } from './sigmaCondition.js';
import { sigmaFieldProblem, sigmaFieldValues } from './sigmaFields.js';
import type { Severity } from './types.js';

/**
 * Sigma rules over Kubernetes audit events. Teams keep Kubernetes detections as Sigma rules
 * (SigmaHQ's rules/application/kubernetes/audit, their own); `--sigma DIR` loads every rule of a
 * folder (recursively) whose logsource is Kubernetes audit (product: kubernetes, service: audit)
 * and evaluates it over the same parsed events as the built-in rules; a match is a label with
 * the rule's id, title, level (as severity) and tags (attack.tNNNN → ATT&CK ids).
 *
 * The subset evaluated (anything else is refused, naming the file and the construct):
 *   detection    search identifiers that are a map (fields AND-ed) or a list of maps (OR-ed);
 *                a list of values is OR-ed; the condition (sigmaCondition.ts) or a list of them
 *   values       strings (case-insensitive, * and ? wildcards, \ escapes), numbers, booleans, null
 *   modifiers    contains, startswith, endswith, re (with i, m, s), all, cidr, exists
 *   fields       dotted paths into the audit event and SigmaHQ's shorthands (sigmaFields.ts)
 * Refused: keyword (field-less) searches, other modifiers (base64, windash, fieldref, lt/gt, ...),
 * aggregations, timeframes, correlation and filter rules, `action: global` collections.
 *
 * Written by hand: the npm registry has no Sigma evaluator (only graph-drawing packages by
 * that name); pySigma and the Rust engines convert or run outside Node.
 */

export interface CompiledSigmaRule {
  /** The label metadata: id, title, severity from level, ATT&CK ids from attack.tNNNN tags, all tags. */
  meta: { id: string; title: string; severity: Severity; kind: 'sigma'; attack: string[]; tags?: string[] };
  sigma: { level: string; file: string; status?: string };
  /** The fields that matched (path → value) when the rule matches the event, else undefined. */
  evaluate(subject: unknown): Record<string, unknown> | undefined;
}

export interface LoadSigmaRulesResult {
  rules: CompiledSigmaRule[];
  /** Rules of other log sources in the folders (left out, not refused). */
  skipped: { file: string; title: string; logsource: string }[];
}

export class SigmaRuleError extends Error {
  override name = 'SigmaRuleError';
}

const LEVELS: Record<string, Severity> = { informational: 'info', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };
const SUPPORTED_MODIFIERS = new Set(['contains', 'startswith', 'endswith', 're', 'all', 'cidr', 'exists']);
const RE_FLAGS = new Set(['i', 'm', 's']);

type Fields = Record<string, unknown>;
type Value = string | number | boolean | null;
type FieldMatcher = { field: string; test(values: unknown[]): unknown[] | undefined };
type Selection = { name: string; alternatives: FieldMatcher[][] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sigma wildcards → RegExp (case-insensitive): * any run, ? one character, \* \? \\ literal. */
function wildcardRegExp(value: string, anchorStart: boolean, anchorEnd: boolean): RegExp {
  let re = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && (value[i + 1] === '*' || value[i + 1] === '?' || value[i + 1] === '\\')) {
      re += `\\${value[++i]}`;
    } else if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`${anchorStart ? '^' : ''}${re}${anchorEnd ? '$' : ''}`, 'is');
}

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function ipList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.trim().split('/');
    const type = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

/** One `field|modifiers: value(s)` entry → a matcher over the field's values (the matching values, or undefined). */
function compileField(key: string, raw: unknown, where: string): FieldMatcher {
  const [field = '', ...mods] = key.split('|');
  if (field === '') throw new SigmaRuleError(`${where}: "${key}": a keyword search (values without a field name) is not supported`);
  const fieldProblem = sigmaFieldProblem(field);
  if (fieldProblem) throw new SigmaRuleError(`${where}: ${fieldProblem}`);
  const modifiers = new Set<string>();
  const reFlags = new Set<string>();
  for (const m of mods) {
    const lower = m.toLowerCase();
    if (RE_FLAGS.has(lower) && modifiers.has('re')) reFlags.add(lower);
    else if (SUPPORTED_MODIFIERS.has(lower)) modifiers.add(lower);
    else throw new SigmaRuleError(`${where}: modifier "${m}" in "${key}" is not supported (supported: ${[...SUPPORTED_MODIFIERS].join(', ')}; re with i, m, s)`);
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new SigmaRuleError(`${where}: "${key}" has an empty list of values`);
  for (const v of list) {
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new SigmaRuleError(`${where}: "${key}": a value must be a string, number, boolean or null (found ${Array.isArray(v) ? 'a list' : 'a map'})`);
    }
  }
  const values = list as Value[];
  const all = modifiers.has('all');
  const transforms = ['contains', 'startswith', 'endswith', 're', 'cidr', 'exists'].filter((m) => modifiers.has(m));
  if (transforms.length > 1) throw new SigmaRuleError(`${where}: "${key}" combines ${transforms.join(' and ')}; use one of them per field`);
  const mode = transforms[0] ?? 'equals';

  if (mode === 'exists') {
    if (values.length !== 1 || typeof values[0] !== 'boolean') throw new SigmaRuleError(`${where}: "${key}" needs true or false`);
    const want = values[0];
    return {
      field,
      test: (found) => {
        const present = found.some((v) => v !== null && v !== undefined);
        return present === want ? (present ? found.slice(0, 5) : ['(absent)']) : undefined;
      },
    };
  }

  if (mode === 'cidr') {
    for (const v of values) if (typeof v !== 'string' || !isCidr(v)) throw new SigmaRuleError(`${where}: "${key}": ${JSON.stringify(v)} is not a CIDR`);
    const lists = values.map((v) => ipList([v as string]));
    const tests = lists.map((l) => (found: unknown[]) => found.filter((f) => typeof f === 'string' && isIP(f) !== 0 && l.check(f, isIP(f) === 6 ? 'ipv6' : 'ipv4')));
    return combine(field, tests, all);
  }
  if (mode === 're') {
    const tests = values.map((v) => {
      if (typeof v !== 'string') throw new SigmaRuleError(`${where}: "${key}": a regular expression must be a string`);
      let re: RegExp;
      try {
        re = new RegExp(v, [...reFlags].join(''));
      } catch (error) {
        throw new SigmaRuleError(`${where}: "${key}": not a valid regular expression: ${(error as Error).message}`);
      }
      return (found: unknown[]) =>
        found.filter((f) => {
          const t = text(f);
          return t !== undefined && re.test(t);
        });
    });
    return combine(field, tests, all);
  }
  const tests = values.map((v) => {
    if (v === null) return (found: unknown[]) => (found.every((f) => f === null || f === undefined) ? ['(null)'] : []);
    if (typeof v === 'string') {
      const re = wildcardRegExp(v, mode !== 'contains' && mode !== 'endswith', mode !== 'contains' && mode !== 'startswith');
      return (found: unknown[]) =>
        found.filter((f) => {
          const t = text(f);
          return t !== undefined && re.test(t);
        });
    }
    const want = String(v).toLowerCase();
    return (found: unknown[]) => found.filter((f) => text(f)?.toLowerCase() === want);
  });
  return combine(field, tests, all);
}

/** Values OR-ed (any value matches), or AND-ed with |all (every value matches some field value). */
function combine(field: string, tests: ((found: unknown[]) => unknown[])[], all: boolean): FieldMatcher {
  return {
    field,
    test: (found) => {
      const hits: unknown[] = [];
      for (const t of tests) {
        const h = t(found);
        if (h.length === 0 && all) return undefined;
        hits.push(...h);
      }
      return hits.length ? [...new Set(hits)].slice(0, 5) : undefined;
    },
  };
}

function compileSelection(name: string, raw: unknown, where: string): Selection {
  const at = `${where}: detection.${name}`;
  const maps = Array.isArray(raw) ? raw : [raw];
  if (maps.length === 0) throw new SigmaRuleError(`${at}: empty`);
  const alternatives = maps.map((m) => {
    if (!isRecord(m)) throw new SigmaRuleError(`${at}: a keyword search (a list of values without field names) is not supported`);
    const entries = Object.entries(m);
    if (entries.length === 0) throw new SigmaRuleError(`${at}: empty map`);
    return entries.map(([k, v]) => compileField(k, v, at));
  });
  return { name, alternatives };
}

function evaluateSelection(sel: Selection, subject: unknown, out: Fields | undefined): boolean {
  for (const alt of sel.alternatives) {
    const hits: [string, unknown][] = [];
    let ok = true;
    for (const m of alt) {
      const h = m.test(sigmaFieldValues(subject, m.field));
      if (!h) {
        ok = false;
        break;
      }
      hits.push([m.field, h.length === 1 ? h[0] : h]);
    }
    if (ok) {
      if (out) for (const [k, v] of hits) out[k] = v;
      return true;
    }
  }
  return false;
}

function evaluateNode(node: ConditionNode, selections: Map<string, Selection>, subject: unknown, out: Fields | undefined): boolean {
  switch (node.type) {
    case 'ref':
      return evaluateSelection(selections.get(node.name)!, subject, out);
    case 'not':
      return !evaluateNode(node.child, selections, subject, undefined);
    case 'and':
      return node.children.every((c) => evaluateNode(c, selections, subject, out));
    case 'or':
      return node.children.some((c) => evaluateNode(c, selections, subject, out));
    case 'of': {
      if (node.quantifier === 'all') return node.names.every((n) => evaluateSelection(selections.get(n)!, subject, out));
      return node.names.some((n) => evaluateSelection(selections.get(n)!, subject, out));
    }
  }
}

const REFUSED_TOP = ['correlation', 'filter', 'action'] as const;

/**
 * Compile one parsed YAML document. Returns undefined for a rule of another log source; throws
 * SigmaRuleError naming the file and the construct for anything outside the subset.
 */
export function compileSigmaRule(doc: unknown, file: string): CompiledSigmaRule | { skipped: { file: string; title: string; logsource: string } } {
  if (!isRecord(doc)) throw new SigmaRuleError(`${file}: a Sigma rule is a YAML map (title, logsource, detection, ...)`);
  const title = typeof doc.title === 'string' && doc.title.trim() ? doc.title.trim() : undefined;
  const where = `${file}${title ? ` (rule "${title}")` : ''}`;
  for (const k of REFUSED_TOP) {
    if (k in doc) throw new SigmaRuleError(`${where}: "${k}:" (${k === 'action' ? 'rule collections' : `${k} rules`}) is not supported`);
  }
  if (!title) throw new SigmaRuleError(`${where}: the rule has no title`);
  const logsource = isRecord(doc.logsource) ? doc.logsource : {};
  const product = String(logsource.product ?? '').toLowerCase();
  const service = String(logsource.service ?? '').toLowerCase();
  if (product !== 'kubernetes' || service !== 'audit') {
    return {
      skipped: {
        file,
        title,
        logsource:
          Object.entries(logsource)
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join(', ') || '(none)',
      },
    };
  }
  const detection = doc.detection;
  if (!isRecord(detection)) throw new SigmaRuleError(`${where}: the rule has no detection map`);
  if ('timeframe' in detection) throw new SigmaRuleError(`${where}: "timeframe" (aggregation over time) is not supported`);
  const conditionRaw = detection.condition;
  const conditions = Array.isArray(conditionRaw) ? conditionRaw : [conditionRaw];
  if (conditions.length === 0 || !conditions.every((c) => typeof c === 'string' && c.trim() !== ''))
    throw new SigmaRuleError(`${where}: detection.condition must be a condition string (or a list of them)`);
  const selections = new Map<string, Selection>();
  for (const [name, value] of Object.entries(detection)) {
    if (name === 'condition') continue;
    selections.set(name, compileSelection(name, value, where));
  }
  const names = [...selections.keys()];
  let node: ConditionNode;
  try {
    const parsed = (conditions as string[]).map((c) => parseCondition(c, names));
    node = parsed.length === 1 ? parsed[0]! : { type: 'or', children: parsed };
  } catch (error) {
    if (error instanceof SigmaConditionError) throw new SigmaRuleError(`${where}: condition "${conditions.join('" / "')}": ${error.message}`);
    throw error;
  }
  const levelText = typeof doc.level === 'string' ? doc.level.toLowerCase() : 'medium';
  const severity = LEVELS[levelText];
  if (!severity) throw new SigmaRuleError(`${where}: level "${String(doc.level)}" is not one of ${Object.keys(LEVELS).join(', ')}`);
  const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
  const attack = [...new Set(tags.map((t) => /^attack\.(t\d{4}(?:\.\d{3})?)$/i.exec(t)?.[1]?.toUpperCase()).filter((t): t is string => t !== undefined))];
  const id = typeof doc.id === 'string' && doc.id.trim() ? doc.id.trim() : `sigma:${basename(file).replace(/\.ya?ml$/i, '')}`;
  return {
    meta: { id, title, severity, kind: 'sigma', attack, ...(tags.length ? { tags } : {}) },
    sigma: { level: levelText, file, ...(typeof doc.status === 'string' ? { status: doc.status } : {}) },
    evaluate(subject) {
      const out: Fields = {};
      return evaluateNode(node, selections, subject, out) ? out : undefined;
    },
  };
}

/** Every rule of one YAML text (one rule per document). */
export function parseSigmaYaml(text: string, file: string): (CompiledSigmaRule | { skipped: LoadSigmaRulesResult['skipped'][number] })[] {
  const out: (CompiledSigmaRule | { skipped: LoadSigmaRulesResult['skipped'][number] })[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new SigmaRuleError(`${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    out.push(compileSigmaRule(value, file));
  }
  return out;
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (/\.ya?ml$/i.test(e.name)) out.push(path);
  }
  return out;
}

/**
 * Load the Kubernetes audit Sigma rules of each directory (recursively, in name order). Every
 * refused rule is named in one InputError (field "--sigma"), so a folder is fixed in one go;
 * rules of other log sources are listed in `skipped`.
 */
export async function loadSigmaRules(dirs: readonly string[]): Promise<LoadSigmaRulesResult> {
  const rules: CompiledSigmaRule[] = [];
  const skipped: LoadSigmaRulesResult['skipped'] = [];
  const refused: string[] = [];
  const ids = new Map<string, string>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = await yamlFiles(dir);
    } catch (error) {
      throw new InputError('--sigma', `cannot read Sigma rules directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    for (const path of files) {
      const file = path;
      try {
        for (const r of parseSigmaYaml(await readFile(path, 'utf8'), file)) {
          if ('skipped' in r) {
            skipped.push(r.skipped);
            continue;
          }
          const other = ids.get(r.meta.id);
          if (other) throw new SigmaRuleError(`${file}: rule id ${r.meta.id} is already used by ${other}`);
          ids.set(r.meta.id, file);
          rules.push(r);
        }
      } catch (error) {
        if (!(error instanceof SigmaRuleError)) throw error;
        refused.push(error.message);
      }
    }
  }
  if (refused.length) {
    const shown = refused
      .slice(0, 10)
      .map((m) => `  ${m}`)
      .join('\n');
    throw new InputError(
      '--sigma',
      `${refused.length} Sigma rule file(s) use what this evaluator does not support; fix or remove them:\n${shown}${refused.length > 10 ? `\n  … and ${refused.length - 10} more` : ''}`,
    );
  }
  return { rules, skipped };
}
