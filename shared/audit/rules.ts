import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { FieldPathError, parseFieldPath } from './fieldPath.js';
import { SEVERITIES } from './types.js';
import { appendAll } from '../util/arrays.js';

/**
 * Audit detection rules are data: YAML files a user can extend without touching code.
 * Each file holds a list of rules (or {rules: [...]}). Three kinds:
 *
 *   match      label every event the `match` block selects
 *   threshold  label when `threshold` events selected by `match` share the `groupBy` values
 *              within `windowSeconds` (bursts of 401/403, many secret gets by one user)
 *   correlate  label an event selected by `then` when an earlier event selected by `first`
 *              has the same `join` values within `withinSeconds` (deleting what one created;
 *              binding a role that was just given * verbs). A join path list means "first
 *              non-empty of"; `required: false` lets a value be absent on both sides
 *              (the namespace of a cluster-scoped object).
 *
 * A `match` block: verbs, resources ("secrets" = any group, "rbac.authorization.k8s.io/roles"
 * = that group, "core/secrets" = core only), subresources ("" = none), namespaces /
 * notNamespaces, users / notUsers / groups / notGroups (globs with *), requestUris /
 * notRequestUris (globs), responseCodes (401 or "200-299"), impersonated (true/false),
 * serviceAccountCrossNamespace (a service account acting outside its own namespace, cluster-wide
 * included), sourceIpNotIn (CIDRs, or "$allowedNetworks" = the --allow-cidr list; a rule that
 * names it is inactive when none is configured), and field predicates `all` (each must hold),
 * `any` (one must), `none` (none may): each {path, equals | exists | contains | in | matches
 * (+ flags)}, paths into the event (see fieldPath.ts) or into what the labeler derives from it:
 * `exec.*` (command, commandLine, container, tty, stdin, ... of exec / attach / port-forward /
 * debug requests, ./execRequest.ts); a JSON-patch requestObject is laid out as the object it
 * produces (./patchView.ts).
 *
 * Every rule may name the MITRE ATT&CK techniques it detects (`attack`) and Microsoft's threat
 * matrix for Kubernetes ids (`threatMatrix`); the built-in rules all do (shared/audit/README.md).
 */

const GLOB = z.string().min(1);
const CODE = z.union([z.number().int().min(100).max(599), z.string().regex(/^\d{3}(-\d{3})?$/, 'use a code like 403 or a range like "200-299"')]);

const predicateSchema = z
  .object({
    path: z.string().min(1),
    equals: z.unknown().optional(),
    exists: z.boolean().optional(),
    contains: z.union([z.string(), z.number(), z.boolean()]).optional(),
    in: z.array(z.unknown()).min(1).optional(),
    matches: z.string().min(1).optional(),
    /** Regular expression flags for `matches` ("i": ignore case). */
    flags: z
      .string()
      .regex(/^[ims]*$/, 'use regular expression flags i, m and s only')
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const ops = (['equals', 'exists', 'contains', 'in', 'matches'] as const).filter((k) => p[k] !== undefined);
    if (ops.length !== 1)
      ctx.addIssue({ code: 'custom', message: `a predicate needs exactly one of equals, exists, contains, in, matches (found ${ops.length ? ops.join(', ') : 'none'})` });
    try {
      parseFieldPath(p.path);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: error instanceof FieldPathError ? error.message : String(error) });
    }
    if (p.flags !== undefined && p.matches === undefined) ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags go with matches' });
    if (p.matches !== undefined) {
      try {
        new RegExp(p.matches, p.flags);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['matches'], message: `not a valid regular expression: ${(error as Error).message}` });
      }
    }
  });

export const matchSchema = z
  .object({
    verbs: z.array(z.string().min(1)).min(1).optional(),
    resources: z.array(z.string().min(1)).min(1).optional(),
    subresources: z.array(z.string()).min(1).optional(),
    namespaces: z.array(GLOB).min(1).optional(),
    notNamespaces: z.array(GLOB).min(1).optional(),
    users: z.array(GLOB).min(1).optional(),
    notUsers: z.array(GLOB).min(1).optional(),
    groups: z.array(GLOB).min(1).optional(),
    notGroups: z.array(GLOB).min(1).optional(),
    requestUris: z.array(GLOB).min(1).optional(),
    notRequestUris: z.array(GLOB).min(1).optional(),
    responseCodes: z.array(CODE).min(1).optional(),
    impersonated: z.boolean().optional(),
    serviceAccountCrossNamespace: z.boolean().optional(),
    sourceIpNotIn: z
      .array(z.string().refine((s) => s === '$allowedNetworks' || isCidr(s), { message: 'use a CIDR like 10.0.0.0/8 or "$allowedNetworks"' }))
      .min(1)
      .optional(),
    all: z.array(predicateSchema).min(1).optional(),
    any: z.array(predicateSchema).min(1).optional(),
    none: z.array(predicateSchema).min(1).optional(),
  })
  .strict();

const pathList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const base = {
  id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, "-" and "."'),
  title: z.string().min(1),
  severity: z.enum(SEVERITIES as unknown as [string, ...string[]]),
  description: z.string().min(1),
  enabled: z.boolean().default(true),
  /** MITRE ATT&CK technique ids (Enterprise matrix, Containers platform): T1609, T1552.007, ... */
  attack: z.array(z.string().regex(/^T\d{4}(\.\d{3})?$/, 'an ATT&CK technique id like T1609 or T1552.007')).default([]),
  /** Microsoft threat matrix for Kubernetes technique ids: MS-TA9006, ... */
  threatMatrix: z.array(z.string().regex(/^MS-TA9\d{3}$/, 'a threat matrix for Kubernetes id like MS-TA9006')).optional(),
  tags: z.array(z.string()).optional(),
};

const matchRuleSchema = z.object({ ...base, kind: z.literal('match'), match: matchSchema }).strict();
const thresholdRuleSchema = z
  .object({
    ...base,
    kind: z.literal('threshold'),
    match: matchSchema,
    groupBy: z.array(z.string().min(1)).min(1),
    threshold: z.number().int().min(2),
    windowSeconds: z.number().positive(),
  })
  .strict();
const correlateRuleSchema = z
  .object({
    ...base,
    kind: z.literal('correlate'),
    first: matchSchema,
    then: matchSchema,
    join: z.array(z.object({ first: pathList, then: pathList, required: z.boolean().default(true) }).strict()).min(1),
    withinSeconds: z.number().positive(),
  })
  .strict();

export const ruleSchema = z.preprocess(
  (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && !('kind' in v) ? { ...v, kind: 'match' } : v),
  z.discriminatedUnion('kind', [matchRuleSchema, thresholdRuleSchema, correlateRuleSchema]),
);

export type MatchSpec = z.infer<typeof matchSchema>;
export type MatchRule = z.infer<typeof matchRuleSchema>;
export type ThresholdRule = z.infer<typeof thresholdRuleSchema>;
export type CorrelateRule = z.infer<typeof correlateRuleSchema>;
export type AuditRule = (MatchRule | ThresholdRule | CorrelateRule) & { severity: (typeof SEVERITIES)[number] };
/** A rule with the file it came from (for messages). */
export type LoadedRule = AuditRule & { file: string };

export function isCidr(text: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return isIP(text.trim()) !== 0;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return family === 4 ? bits <= 32 : family === 6 ? bits <= 128 : false;
}

function checkPaths(rule: AuditRule, where: string): void {
  const paths: string[] = [];
  if (rule.kind === 'threshold') appendAll(paths, rule.groupBy);
  if (rule.kind === 'correlate') for (const j of rule.join) appendAll(paths, [j.first, j.then].flat());
  for (const p of paths) {
    try {
      parseFieldPath(p);
    } catch (error) {
      throw new InputError('rules', `${where}: ${(error as Error).message}`);
    }
  }
}

/** Validate rule documents parsed from one file. */
export function parseRules(documents: unknown, file: string): LoadedRule[] {
  const list = Array.isArray(documents)
    ? documents
    : typeof documents === 'object' && documents !== null && Array.isArray((documents as { rules?: unknown }).rules)
      ? (documents as { rules: unknown[] }).rules
      : undefined;
  if (!list) throw new InputError('rules', `${file}: expected a list of rules (or "rules:" followed by a list)`);
  const out: LoadedRule[] = [];
  const ids = new Set<string>();
  list.forEach((raw, index) => {
    const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
    const where = `${file}: rule ${id ? `"${id}"` : `#${index + 1}`}`;
    const parsed = ruleSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue && issue.path.length ? ` at ${issue.path.join('.')}` : '';
      throw new InputError('rules', `${where}${at}: ${issue?.message ?? 'invalid'}`);
    }
    const rule = parsed.data as AuditRule;
    checkPaths(rule, where);
    if (ids.has(rule.id)) throw new InputError('rules', `${where}: id "${rule.id}" is declared twice in this file`);
    ids.add(rule.id);
    out.push({ ...rule, file });
  });
  return out;
}

/** Parse one YAML text (several `---` documents are concatenated). */
export function parseRulesYaml(text: string, file: string): LoadedRule[] {
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length) throw new InputError('rules', `${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) appendAll(values, v as unknown[]);
    else if (typeof v === 'object' && Array.isArray((v as { rules?: unknown }).rules)) appendAll(values, (v as { rules: unknown[] }).rules);
    else throw new InputError('rules', `${file}: expected a list of rules (or "rules:" followed by a list)`);
  }
  return parseRules(values, file);
}

/** Read every *.yaml / *.yml file of a directory, in name order. */
export async function loadRulesDir(dir: string): Promise<LoadedRule[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (error) {
    throw new InputError('rules', `cannot read rules directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const out: LoadedRule[] = [];
  const where = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    for (const rule of parseRulesYaml(await readFile(file, 'utf8'), file)) {
      const other = where.get(rule.id);
      if (other) throw new InputError('rules', `${file}: rule "${rule.id}" is already declared in ${basename(other)}`);
      where.set(rule.id, file);
      out.push(rule);
    }
  }
  return out;
}

/**
 * Where the built-in rules live: shared/audit/rules next to this module when run from source
 * (tsx/jest), or the package's shared/audit/rules when run from dist/ (tsc does not copy YAML).
 */
export function defaultRulesDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, 'rules'), join(here, '..', '..', '..', 'shared', 'audit', 'rules')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new InputError('rules', `built-in audit rules not found (looked in ${candidates.join(', ')})`);
}

/**
 * The built-in rules, plus every rule in `userDirs`. A user rule with the id of a built-in
 * rule replaces it (tune a threshold, or set enabled: false); two user files may not both
 * declare one id.
 */
export async function loadAuditRules(options: { userDirs?: string[]; builtIn?: boolean } = {}): Promise<LoadedRule[]> {
  const builtIn = options.builtIn === false ? [] : await loadRulesDir(defaultRulesDir());
  const byId = new Map(builtIn.map((r) => [r.id, r] as const));
  const userSeen = new Map<string, string>();
  for (const dir of options.userDirs ?? []) {
    for (const rule of await loadRulesDir(dir)) {
      const other = userSeen.get(rule.id);
      if (other) throw new InputError('rules', `${rule.file}: rule "${rule.id}" is already declared in ${other}`);
      userSeen.set(rule.id, rule.file);
      byId.set(rule.id, rule);
    }
  }
  return [...byId.values()];
}
