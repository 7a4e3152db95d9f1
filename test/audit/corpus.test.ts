import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateCorpus, formatQualityReport, type QualityReport } from '../../shared/audit/evaluate.js';
import { loadAuditRules, type LoadedRule } from '../../shared/audit/rules.js';
import { buildCorpus } from '../fixtures/audit/corpus/build.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CORPUS = join(HERE, '..', 'fixtures', 'audit', 'corpus');
const TARGET = 0.95;

let rules: LoadedRule[];
let report: QualityReport;
beforeAll(async () => {
  const built = buildCorpus();
  if (process.env.UPDATE_CORPUS === '1') {
    await mkdir(CORPUS, { recursive: true });
    for (const [name, text] of Object.entries(built.files)) await writeFile(join(CORPUS, name), text);
    await writeFile(join(CORPUS, 'expected.json'), `${JSON.stringify(built.expected, null, 1)}\n`);
  }
  rules = await loadAuditRules();
  report = await evaluateCorpus(CORPUS, { rules });
});

describe('the labelled audit corpus', () => {
  it('is what build.ts renders (regenerate with UPDATE_CORPUS=1)', async () => {
    const built = buildCorpus();
    for (const [name, text] of Object.entries(built.files)) expect(await readFile(join(CORPUS, name), 'utf8')).toBe(text);
    expect(JSON.parse(await readFile(join(CORPUS, 'expected.json'), 'utf8'))).toEqual(built.expected);
  });

  it('holds at least 150 requests in all four shapes', () => {
    expect(report.overall.events).toBeGreaterThanOrEqual(150);
    expect(Object.keys(report.shapes).sort()).toEqual(['aks-audit-row', 'aks-diagnostic', 'audit-event', 'azure-diagnostics-row']);
    for (const c of Object.values(report.shapes)) expect(c.events).toBeGreaterThanOrEqual(30);
  });

  it('has a positive and a near miss for every built-in rule', () => {
    const thin = report.rules.filter((r) => r.positives < 1 || r.nearMisses < 1).map((r) => `${r.ruleId} (${r.positives} positive, ${r.nearMisses} near miss)`);
    expect(thin).toEqual([]);
    expect(report.rules.map((r) => r.ruleId).sort()).toEqual(rules.map((r) => r.id).sort());
  });

  it(`meets the target: precision and recall >= ${TARGET} over the corpus`, () => {
    // The table the evaluation command prints, for the record of this run.
    process.stdout.write(`${formatQualityReport(report)}\n`);
    expect(report.overall.precision).toBeGreaterThanOrEqual(TARGET);
    expect(report.overall.recall).toBeGreaterThanOrEqual(TARGET);
  });

  it('reports its damaged records (cut, unreadable, incomplete) without losing their neighbours', () => {
    const kinds = report.problems.map((p) => `${p.file}:${p.kind}`).sort();
    expect(kinds).toEqual([
      'azurediagnostics-rows.json:partial',
      'diagnostic-records.ndjson:partial',
      'raw.ndjson:incomplete',
      'raw.ndjson:partial',
      'raw.ndjson:partial',
      'raw.ndjson:unreadable',
    ]);
    const cut = report.problems.find((p) => p.file === 'azurediagnostics-rows.json')!;
    expect(cut.message).toMatch(/^log_s was cut after 32,766 characters: the event keeps the fields before the cut; missing: requestReceivedTimestamp, stageTimestamp$/);
  });

  it('names every miss it has: only the ones the exports cannot show', () => {
    expect(report.mistakes.map((m) => `${m.kind} ${m.ruleId}`).sort()).toEqual(['false-negative impersonation', 'false-negative pod-privileged']);
  });
});
