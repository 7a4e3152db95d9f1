import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { createAuditLabeler, type AuditLabelerOptions } from './label.js';
import { parseAuditRecords, type AuditInputShape, type AuditParseProblem } from './parse.js';
import type { AuditRule } from './rules.js';
import { AuditDeduper, FinalStageSelector } from './stages.js';
import type { AuditEvent } from './types.js';
import { byEventTime } from './types.js';

/**
 * Measured detection quality: run the rules over a labelled corpus and count, per rule, the
 * labels that should be there (true positives), those that should not (false positives) and
 * those missing (false negatives).
 *
 * A corpus is a directory of audit files in any supported shape plus `expected.json`:
 *
 *   { "allowedNetworks": ["10.0.0.0/8"],            // --allow-cidr for the evaluation
 *     "events": [ { "key": "<auditID>", "rules": ["pod-exec"], "nearMiss": ["exec-interactive-shell"], "note": "..." },
 *                 { "key": "raw.ndjson:42", "rules": [] } ] }
 *
 * Every request of the corpus (one final-stage event each) must be listed: `key` is its auditID,
 * or file:line for a record without one. `rules` are every label it must earn (an empty list:
 * none); `nearMiss` names the rules it was written to resemble without earning.
 */

const expectedSchema = z
  .object({
    description: z.string().optional(),
    allowedNetworks: z.array(z.string()).optional(),
    events: z.array(
      z
        .object({
          key: z.string().min(1),
          rules: z.array(z.string()),
          nearMiss: z.array(z.string()).optional(),
          note: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export type CorpusExpectations = z.infer<typeof expectedSchema>;

export interface RuleQuality {
  ruleId: string;
  /** Corpus events that must earn the rule's label. */
  positives: number;
  /** Corpus events written as near misses of the rule. */
  nearMisses: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  /** TP / (TP + FP); 1 when the rule labelled nothing and nothing was wrong. */
  precision: number;
  /** TP / (TP + FN); 1 when the rule had nothing to find. */
  recall: number;
}

export interface QualityCounts {
  events: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
}

export interface QualityReport {
  rules: RuleQuality[];
  overall: QualityCounts;
  /** The same counts per input shape of the records. */
  shapes: Partial<Record<AuditInputShape, QualityCounts>>;
  /** Every wrong label: the corpus key, the rule, and which way it is wrong. */
  mistakes: { key: string; ruleId: string; kind: 'false-positive' | 'false-negative' }[];
  /** Records that were not read whole (cut, incomplete, unreadable), with their file. */
  problems: (AuditParseProblem & { file: string })[];
  files: string[];
}

const ratio = (num: number, den: number) => (den === 0 ? 1 : num / den);

function counts(events: number, tp: number, fp: number, fn: number): QualityCounts {
  return { events, truePositives: tp, falsePositives: fp, falseNegatives: fn, precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn) };
}

export interface EvaluateCorpusOptions {
  rules: readonly AuditRule[];
  labeler?: AuditLabelerOptions;
}

/** Label a corpus directory with the rules and measure precision and recall against expected.json. */
export async function evaluateCorpus(dir: string, options: EvaluateCorpusOptions): Promise<QualityReport> {
  let expected: CorpusExpectations;
  try {
    expected = expectedSchema.parse(JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')));
  } catch (error) {
    throw new InputError(
      '--evaluate',
      `${join(dir, 'expected.json')}: ${error instanceof z.ZodError ? (error.issues[0]?.message ?? 'invalid') + ` at ${error.issues[0]?.path.join('.')}` : (error as Error).message}`,
    );
  }
  const known = new Set([...options.rules.map((r) => r.id), ...(options.labeler?.sigmaRules ?? []).map((r) => r.meta.id)]);
  for (const e of expected.events) {
    for (const r of [...e.rules, ...(e.nearMiss ?? [])]) if (!known.has(r)) throw new InputError('--evaluate', `expected.json: ${e.key} names rule "${r}", which is not loaded`);
  }
  const files = (await readdir(dir)).filter((f) => f !== 'expected.json' && /\.(json|ndjson|csv)$/i.test(f)).sort();
  const problems: QualityReport['problems'] = [];
  type Located = { event: AuditEvent; key: string; shape: AuditInputShape };
  const finals: Located[] = [];
  const where = new Map<AuditEvent, Omit<Located, 'event'>>();
  const dedupe = new AuditDeduper();
  const select = new FinalStageSelector();
  for (const file of files) {
    for await (const r of parseAuditRecords(createReadStream(join(dir, file)), { onProblem: (p) => problems.push({ ...p, file }) })) {
      const key = r.event.auditID || `${file}:${r.line ?? 0}${r.index !== undefined ? `#${r.index}` : ''}`;
      where.set(r.event, { key, shape: r.shape ?? 'audit-event' });
      if (!dedupe.isNew(r.event)) continue;
      for (const e of select.push(r.event)) finals.push({ event: e, ...where.get(e)! });
    }
  }
  for (const e of select.flushStarted()) finals.push({ event: e, ...where.get(e)! });
  finals.sort((a, b) => byEventTime(a.event, b.event));

  const byKey = new Map(expected.events.map((e) => [e.key, e] as const));
  const seen = new Set<string>();
  const unlisted = finals.filter((f) => !byKey.has(f.key)).map((f) => f.key);
  if (unlisted.length)
    throw new InputError(
      '--evaluate',
      `expected.json does not list ${unlisted.length} request(s) of the corpus: ${unlisted.slice(0, 5).join(', ')}${unlisted.length > 5 ? ', …' : ''}`,
    );

  const labeler = createAuditLabeler(options.rules, { ...options.labeler, ...(expected.allowedNetworks ? { allowedNetworks: expected.allowedNetworks } : {}) });
  const perRule = new Map<string, { tp: number; fp: number; fn: number; pos: number; near: number }>();
  const rule = (id: string) => perRule.get(id) ?? (perRule.set(id, { tp: 0, fp: 0, fn: 0, pos: 0, near: 0 }), perRule.get(id)!);
  for (const id of known) rule(id);
  const perShape = new Map<AuditInputShape, { events: number; tp: number; fp: number; fn: number }>();
  const mistakes: QualityReport['mistakes'] = [];
  for (const f of finals) {
    const want = byKey.get(f.key)!;
    if (seen.has(f.key)) throw new InputError('--evaluate', `two requests of the corpus have the key ${f.key}`);
    seen.add(f.key);
    const got = new Set(labeler.push(f.event).map((l) => l.ruleId));
    const expect = new Set(want.rules);
    const shape = perShape.get(f.shape) ?? (perShape.set(f.shape, { events: 0, tp: 0, fp: 0, fn: 0 }), perShape.get(f.shape)!);
    shape.events++;
    for (const id of expect) rule(id).pos++;
    for (const id of want.nearMiss ?? []) rule(id).near++;
    for (const id of new Set([...got, ...expect])) {
      const r = rule(id);
      if (got.has(id) && expect.has(id)) {
        r.tp++;
        shape.tp++;
      } else if (got.has(id)) {
        r.fp++;
        shape.fp++;
        mistakes.push({ key: f.key, ruleId: id, kind: 'false-positive' });
      } else {
        r.fn++;
        shape.fn++;
        mistakes.push({ key: f.key, ruleId: id, kind: 'false-negative' });
      }
    }
  }
  const missing = expected.events.filter((e) => !seen.has(e.key)).map((e) => e.key);
  if (missing.length)
    throw new InputError(
      '--evaluate',
      `expected.json lists ${missing.length} key(s) the corpus does not hold: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );

  const rules = [...perRule.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([ruleId, r]) => ({
      ruleId,
      positives: r.pos,
      nearMisses: r.near,
      truePositives: r.tp,
      falsePositives: r.fp,
      falseNegatives: r.fn,
      precision: ratio(r.tp, r.tp + r.fp),
      recall: ratio(r.tp, r.tp + r.fn),
    }));
  const sum = (k: 'tp' | 'fp' | 'fn') => [...perRule.values()].reduce((a, r) => a + r[k], 0);
  return {
    rules,
    overall: counts(finals.length, sum('tp'), sum('fp'), sum('fn')),
    shapes: Object.fromEntries([...perShape].map(([k, v]) => [k, counts(v.events, v.tp, v.fp, v.fn)])),
    mistakes,
    problems,
    files,
  };
}

const f3 = (n: number) => n.toFixed(3);

/** The report as the table the evaluation command prints. */
export function formatQualityReport(report: QualityReport): string {
  const w = Math.max(24, ...report.rules.map((r) => r.ruleId.length));
  const head = `${'rule'.padEnd(w)} ${'pos'.padStart(4)} ${'near'.padStart(5)} ${'TP'.padStart(4)} ${'FP'.padStart(4)} ${'FN'.padStart(4)} ${'precision'.padStart(10)} ${'recall'.padStart(7)}`;
  const lines = [head, '-'.repeat(head.length)];
  for (const r of report.rules) {
    lines.push(
      `${r.ruleId.padEnd(w)} ${String(r.positives).padStart(4)} ${String(r.nearMisses).padStart(5)} ${String(r.truePositives).padStart(4)} ${String(r.falsePositives).padStart(4)} ${String(r.falseNegatives).padStart(4)} ${f3(r.precision).padStart(10)} ${f3(r.recall).padStart(7)}`,
    );
  }
  const o = report.overall;
  lines.push('-'.repeat(head.length));
  lines.push(
    `${'overall (micro)'.padEnd(w)} ${String(report.rules.reduce((a, r) => a + r.positives, 0)).padStart(4)} ${String(report.rules.reduce((a, r) => a + r.nearMisses, 0)).padStart(5)} ${String(o.truePositives).padStart(4)} ${String(o.falsePositives).padStart(4)} ${String(o.falseNegatives).padStart(4)} ${f3(o.precision).padStart(10)} ${f3(o.recall).padStart(7)}`,
  );
  lines.push('');
  lines.push(`${'input shape'.padEnd(w)} ${'events'.padStart(6)} ${'TP'.padStart(4)} ${'FP'.padStart(4)} ${'FN'.padStart(4)} ${'precision'.padStart(10)} ${'recall'.padStart(7)}`);
  for (const [shape, c] of Object.entries(report.shapes)) {
    lines.push(
      `${shape.padEnd(w)} ${String(c.events).padStart(6)} ${String(c.truePositives).padStart(4)} ${String(c.falsePositives).padStart(4)} ${String(c.falseNegatives).padStart(4)} ${f3(c.precision).padStart(10)} ${f3(c.recall).padStart(7)}`,
    );
  }
  lines.push('');
  lines.push(`${o.events} requests in ${report.files.length} files (${report.files.join(', ')}); ${report.problems.length} record(s) not read whole`);
  for (const m of report.mistakes.slice(0, 30)) lines.push(`  ${m.kind}: ${m.ruleId} on ${m.key}`);
  if (report.mistakes.length > 30) lines.push(`  … and ${report.mistakes.length - 30} more`);
  return lines.join('\n');
}
