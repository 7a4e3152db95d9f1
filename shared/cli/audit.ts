import { createReadStream } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { defaultAzureCredential } from '../util/azureCredential.js';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import type { Command } from 'commander';
import { followAudit, type AuditWindowFetch } from '../audit/follow.js';
import { evaluateCorpus, formatQualityReport } from '../audit/evaluate.js';
import { createAuditLabeler, type AuditLabeler } from '../audit/label.js';
import { parseAuditInput, problemLocation, type AuditParseProblem } from '../audit/parse.js';
import { loadAuditRules } from '../audit/rules.js';
import { loadSigmaRules, type CompiledSigmaRule } from '../audit/sigma.js';
import { selectFinalEvents } from '../audit/stages.js';
import type { AuditEvent, AuditLabel } from '../audit/types.js';
import { byEventTime, eventTime } from '../audit/types.js';
import { csvField } from '../timeline/format.js';
import { oneLine } from '../util/text.js';
import { describeError, InputError } from '../util/errors.js';
import { parseDurationSeconds, systemClock, type Clock } from '../util/time.js';
import { EXIT, line, type CliIo } from './io.js';
import { parseFormat, parseTimeBound } from './timeline.js';

/**
 * aks-evidence audit: label audit events from files (raw audit lines, AKS diagnostic records,
 * exported Log Analytics rows — JSON, NDJSON or CSV) or straight from a Log Analytics
 * workspace; statically over what is there, or following new events until Ctrl-C.
 */
export interface AuditCliOptions {
  rules?: string[];
  sigma?: string[];
  evaluate?: string;
  target?: string;
  builtinRules?: boolean;
  format?: string;
  follow?: boolean;
  interval?: string;
  allowCidr?: string[];
  workspace?: string;
  cluster?: string;
  since?: string;
  until?: string;
  endpoint?: string;
  maxEvents?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const LABEL_CSV_COLUMNS = [
  'time',
  'severity',
  'rule_id',
  'title',
  'outcome',
  'user',
  'verb',
  'resource',
  'namespace',
  'name',
  'source_ip',
  'response_code',
  'audit_id',
  'attack',
  'exec_command',
  'matched',
] as const;

function labelValues(l: AuditLabel): unknown[] {
  const ref = l.objectRef;
  const resource = ref?.resource ? `${ref.apiGroup ? `${ref.apiGroup}/` : ''}${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}` : '';
  return [
    l.time,
    l.severity,
    l.ruleId,
    l.title,
    l.outcome,
    l.user,
    l.verb,
    resource,
    ref?.namespace ?? '',
    ref?.name ?? '',
    l.sourceIP ?? '',
    l.responseCode ?? '',
    l.auditID,
    l.attack.join(' '),
    l.exec?.commandLine ?? '',
    JSON.stringify(l.matched),
  ];
}

/** Writes labels as they come: table rows, CSV lines or NDJSON (one label per line, also in follow mode). */
export class LabelPrinter {
  private headerDone = false;
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly format: 'table' | 'csv' | 'json',
  ) {}
  print(label: AuditLabel): void {
    if (this.format === 'json') {
      this.out.write(`${JSON.stringify(label)}\n`);
      return;
    }
    if (!this.headerDone) {
      this.headerDone = true;
      this.out.write(
        this.format === 'csv'
          ? `${LABEL_CSV_COLUMNS.join(',')}\n`
          : `${'TIME (UTC)'.padEnd(27)} ${'SEVERITY'.padEnd(8)} ${'RULE'.padEnd(30)} ${'USER'.padEnd(40)} WHAT / MATCHED\n`,
      );
    }
    const v = labelValues(label);
    if (this.format === 'csv') {
      this.out.write(`${v.map(csvField).join(',')}\n`);
      return;
    }
    const exec = label.exec
      ? ` [${label.exec.commandLine}]${label.exec.container ? ` (${label.exec.container})` : ''}${label.exec.tty ? ' tty' : ''}${label.exec.stdin ? ' stdin' : ''}`
      : '';
    const what =
      `${label.outcome === 'attempt' ? `ATTEMPT (${label.responseCode ?? 'failed'}) ` : ''}${label.verb} ${String(v[7])} ${label.objectRef?.namespace ? `${label.objectRef.namespace}/` : ''}${label.objectRef?.name ?? ''}${exec}`.trim();
    const attack = label.attack.length ? `  ${label.attack.join(',')}` : '';
    const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s).padEnd(n);
    this.out.write(
      `${cut(label.time || '(no time)', 27)} ${cut(label.severity, 8)} ${cut(label.ruleId, 30)} ${cut(label.user, 40)} ${oneLine(`${what}${attack}  ${JSON.stringify(label.matched)}`, 600)}\n`,
    );
  }
}

/** Tail NDJSON files: each poll reads what was appended since the last one (complete lines only). */
export function fileTailFetch(paths: readonly string[], onProblem: (file: string, problem: AuditParseProblem) => void): AuditWindowFetch {
  const offsets = new Map<string, number>();
  const remainders = new Map<string, string>();
  return async function* () {
    for (const path of paths) {
      const size = (await stat(path)).size;
      let offset = offsets.get(path) ?? 0;
      if (size < offset) offset = 0; // truncated or rotated: start again (seen events are deduplicated)
      if (size === offset) continue;
      const handle = await open(path, 'r');
      let text: string;
      try {
        const buf = Buffer.alloc(size - offset);
        await handle.read(buf, 0, buf.length, offset);
        text = (remainders.get(path) ?? '') + buf.toString('utf8');
      } finally {
        await handle.close();
      }
      offsets.set(path, size);
      const cut = text.lastIndexOf('\n');
      remainders.set(path, cut >= 0 ? text.slice(cut + 1) : text);
      const complete = cut >= 0 ? text.slice(0, cut + 1) : '';
      if (complete.trim() === '') continue;
      yield* parseAuditInput(complete, { onProblem: (p) => onProblem(path, p) });
    }
  };
}

function describeInactive(labeler: AuditLabeler, io: CliIo): void {
  for (const r of labeler.inactive) line(io.stderr, `note: rule ${r.ruleId}: ${r.reason}`);
}

export interface RunAuditOptions {
  /** Azure credential for --workspace (default DefaultAzureCredential). */
  credential?: TokenCredential;
  /** Extra Log Analytics client options (custom pipeline policies; tests trust their stub's CA here). */
  logsClientOptions?: LogsQueryClientOptions;
  clock?: Clock;
  abortSignal?: AbortSignal;
  /** Follow-mode wait (tests). */
  sleep?: (ms: number, abortSignal?: AbortSignal) => Promise<void>;
}

/** Counts what could not be read whole, per kind, and names the first few (file, line or record, reason). */
class ProblemLog {
  readonly counts = { unreadable: 0, partial: 0, incomplete: 0 };
  private shown = 0;
  constructor(private readonly io: CliIo) {}
  add(file: string, p: AuditParseProblem): void {
    this.counts[p.kind]++;
    if (this.shown >= 10) return;
    this.shown++;
    const where = problemLocation(p);
    line(this.io.stderr, `aks-evidence: ${file}${where ? ` ${where}` : ''}: ${p.kind === 'unreadable' ? 'unreadable' : p.kind === 'partial' ? 'cut' : 'incomplete'}: ${p.message}`);
  }
  /** Records lost or cut: the run finished with gaps. */
  get lost(): number {
    return this.counts.unreadable + this.counts.partial;
  }
  summary(): string {
    const parts = [
      this.counts.unreadable ? `${this.counts.unreadable} record(s) unreadable` : '',
      this.counts.partial ? `${this.counts.partial} cut record(s) kept in part` : '',
      this.counts.incomplete ? `${this.counts.incomplete} record(s) kept without some fields` : '',
    ].filter(Boolean);
    return parts.length ? `; ${parts.join(', ')}` : '';
  }
}

async function loadRules(flags: AuditCliOptions, io: CliIo): Promise<{ rules: Awaited<ReturnType<typeof loadAuditRules>>; sigma: CompiledSigmaRule[] }> {
  const rules = await loadAuditRules({
    ...(flags.rules?.length ? { userDirs: flags.rules.map((d) => resolve(io.cwd, d)) } : {}),
    ...(flags.builtinRules === false ? { builtIn: false } : {}),
  });
  let sigma: CompiledSigmaRule[] = [];
  if (flags.sigma?.length) {
    const loaded = await loadSigmaRules(flags.sigma.map((d) => resolve(io.cwd, d)));
    sigma = loaded.rules;
    line(
      io.stderr,
      `sigma: ${loaded.rules.length} Kubernetes audit rule(s) loaded${loaded.skipped.length ? `; ${loaded.skipped.length} rule(s) of other log sources left out` : ''}`,
    );
  }
  return { rules, sigma };
}

/**
 * The audit command. Exit codes (shared/cli/io.ts EXIT): 0 every record read; 3 finished, but
 * records were unreadable or cut, or the workspace export had gaps; 1 nothing could be read;
 * 2 bad input or usage (missing files, bad flags, rules or Sigma rules refused).
 * With --evaluate: 0 when the corpus-level precision and recall meet the target, 1 when not.
 */
export async function runAudit(files: readonly string[], flags: AuditCliOptions, io: CliIo, options: RunAuditOptions = {}): Promise<number> {
  const format = parseFormat(flags.format);
  const clock = options.clock ?? systemClock;
  if (flags.evaluate) return runEvaluate(flags, io);
  if (files.length === 0 && !flags.workspace) throw new InputError('files', 'give one or more audit files, or --workspace with --cluster');
  if (flags.workspace && !flags.cluster) throw new InputError('--cluster', 'the AKS cluster resource id is required with --workspace');
  const paths = files.map((f) => resolve(io.cwd, f));
  for (const [i, p] of paths.entries()) {
    try {
      await access(p);
    } catch (error) {
      throw new InputError('files', `${files[i]}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
    }
  }
  const { rules, sigma } = await loadRules(flags, io);
  const labeler = createAuditLabeler(rules, { ...(flags.allowCidr?.length ? { allowedNetworks: flags.allowCidr } : {}), ...(sigma.length ? { sigmaRules: sigma } : {}) });
  const printer = new LabelPrinter(io.stdout, format);
  const problems = new ProblemLog(io);
  let gaps = 0;
  describeInactive(labeler, io);
  const counts = new Map<string, number>();
  const tally = (labels: AuditLabel[]) => {
    for (const l of labels) {
      counts.set(l.ruleId, (counts.get(l.ruleId) ?? 0) + 1);
      printer.print(l);
    }
  };

  const workspaceFetch = (): AuditWindowFetch => {
    // The Azure SDKs load only when a workspace is read (file input never needs them).
    let credential: Promise<TokenCredential> | undefined = options.credential ? Promise.resolve(options.credential) : undefined;
    return async function* (w) {
      const pending = (credential ??= defaultAzureCredential());
      const { exportAuditLogs } = await import('../audit/query.js');
      yield* exportAuditLogs({
        workspaceId: flags.workspace!,
        clusterResourceId: flags.cluster!,
        start: w.start,
        end: w.end,
        credential: await pending,
        ...(flags.endpoint ? { endpoint: flags.endpoint } : {}),
        ...(options.logsClientOptions ? { clientOptions: options.logsClientOptions } : {}),
        ...(w.abortSignal ? { abortSignal: w.abortSignal } : {}),
        onGap: (g) => {
          gaps++;
          line(io.stderr, `gap: ${g.reason}: ${g.detail}`);
        },
        onProblem: (p) => problems.add('workspace', p),
      });
    };
  };

  let events = 0;
  let untimed = 0;
  if (flags.follow) {
    const intervalMs = parseDurationSeconds(flags.interval ?? (flags.workspace ? '60s' : '2s')) * 1000;
    if (intervalMs < 1000) throw new InputError('--interval', 'must be at least 1s');
    const fetch = flags.workspace ? workspaceFetch() : fileTailFetch(paths, (file, p) => problems.add(file, p));
    const start = flags.workspace ? new Date(parseTimeBound('--since', flags.since ?? '15m', clock())) : new Date(0);
    line(io.stderr, `following ${flags.workspace ? `workspace ${flags.workspace}` : paths.join(', ')} every ${intervalMs / 1000}s; Ctrl-C to stop`);
    for await (const item of followAudit(fetch, {
      intervalMs,
      labeler,
      start,
      clock,
      // Log Analytics shows events up to ~15 minutes late: re-read that much each time.
      ...(flags.workspace ? { overlapMs: 15 * 60_000 } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      onError: (error) => line(io.stderr, `aks-evidence: poll failed, retrying: ${describeError(error)}`),
    })) {
      if (item.kind === 'event') {
        events++;
        tally(item.labels);
      }
    }
  } else {
    const maxEvents = flags.maxEvents === undefined ? 1_000_000 : Number(flags.maxEvents);
    if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new InputError('--max-events', `"${flags.maxEvents}" is not a positive whole number`);
    const source: AsyncIterable<AuditEvent> = flags.workspace
      ? (workspaceFetch()({
          start: new Date(parseTimeBound('--since', flags.since ?? '24h', clock())),
          end: flags.until ? new Date(parseTimeBound('--until', flags.until, clock())) : clock(),
        }) as AsyncIterable<AuditEvent>)
      : (async function* () {
          for (const [i, p] of paths.entries()) yield* parseAuditInput(createReadStream(p), { onProblem: (x) => problems.add(files[i]!, x) });
        })();
    // Threshold and correlate rules need time order; exports are often newest first.
    const finals: AuditEvent[] = [];
    for await (const e of selectFinalEvents(source)) {
      if (finals.length >= maxEvents) throw new InputError('--max-events', `more than ${maxEvents} audit events: split the input or raise --max-events`);
      finals.push(e);
    }
    finals.sort(byEventTime);
    // Events without a time are labelled too (match rules need no time), and listed apart, last.
    const timed = finals.filter((e) => eventTime(e) !== '');
    const timeless = finals.filter((e) => eventTime(e) === '');
    for (const e of timed) {
      events++;
      tally(labeler.push(e));
    }
    if (timeless.length) {
      untimed = timeless.length;
      if (format === 'table') line(io.stdout, `\n${timeless.length} event(s) without a time of their own (cut or incomplete records), labelled apart from the timeline:`);
      for (const e of timeless) {
        events++;
        tally(labeler.push(e));
      }
    }
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  line(
    io.stderr,
    `${events} audit event(s), ${total} label(s)${counts.size ? `: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}${untimed ? `; ${untimed} event(s) without a time` : ''}${problems.summary()}${gaps ? `; ${gaps} gap(s) in the export` : ''}`,
  );
  if (events === 0 && problems.lost > 0) return EXIT.failed;
  if (problems.lost > 0 || gaps > 0) return EXIT.gaps;
  return EXIT.ok;
}

/** --evaluate CORPUS: precision and recall of the rules on a labelled corpus (shared/audit/evaluate.ts). */
async function runEvaluate(flags: AuditCliOptions, io: CliIo): Promise<number> {
  const target = flags.target === undefined ? 0.95 : Number(flags.target);
  if (!(target >= 0 && target <= 1)) throw new InputError('--target', `"${flags.target}" is not a number from 0 to 1`);
  const { rules, sigma } = await loadRules(flags, io);
  const report = await evaluateCorpus(resolve(io.cwd, flags.evaluate!), {
    rules,
    labeler: { ...(flags.allowCidr?.length ? { allowedNetworks: flags.allowCidr } : {}), ...(sigma.length ? { sigmaRules: sigma } : {}) },
  });
  if (flags.format === 'json') line(io.stdout, JSON.stringify(report, null, 2));
  else line(io.stdout, formatQualityReport(report));
  const o = report.overall;
  const met = o.precision >= target && o.recall >= target;
  const below = report.rules.filter((r) => r.precision < target || r.recall < target).map((r) => r.ruleId);
  line(
    io.stderr,
    `precision ${o.precision.toFixed(3)}, recall ${o.recall.toFixed(3)} over ${o.events} requests: target ${target} ${met ? 'met' : 'MISSED'}${below.length ? `; rules below it: ${below.join(', ')}` : ''}`,
  );
  return met ? EXIT.ok : EXIT.failed;
}

export function registerAuditCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('audit')
    .argument('[files...]', 'audit files: raw audit.k8s.io lines, AKS diagnostic records, exported Log Analytics rows (JSON, NDJSON or CSV)')
    .description(
      'label Kubernetes audit events with the detection rules (and Sigma rules) and print the labels; exit 0 complete, 3 records unreadable or cut, 1 nothing readable, 2 bad input',
    )
    .option('--rules <dir>', 'directory of extra YAML rules (repeatable); a rule with a built-in id replaces it', collect)
    .option('--sigma <dir>', 'directory of Sigma rules (repeatable, searched recursively); those with logsource product: kubernetes, service: audit are evaluated too', collect)
    .option('--evaluate <corpus>', 'measure precision and recall of the rules on a labelled corpus directory (audit files + expected.json) instead of labelling')
    .option('--target <ratio>', 'with --evaluate: precision and recall the corpus must reach (default 0.95); exit 1 below it')
    .option('--no-builtin-rules', 'use only the --rules directories')
    .option('--format <format>', 'table | csv | json (one label per line)', 'table')
    .option('--follow', 'keep reading: new lines of the files, or new events of the workspace, until Ctrl-C')
    .option('--interval <duration>', 'poll interval in follow mode (default 2s for files, 60s for a workspace)')
    .option('--allow-cidr <cidr>', 'expected client network (repeatable); without one the unexpected-source-network rule is inactive', collect)
    .option('--workspace <id>', 'read from this Log Analytics workspace (GUID or ARM id) instead of files, with DefaultAzureCredential')
    .option('--cluster <resourceId>', 'AKS cluster resource id (with --workspace)')
    .option('--since <time>', 'with --workspace: window start, RFC 3339 or a duration back from now (default 24h; 15m in follow mode)')
    .option('--until <time>', 'with --workspace: window end (default now)')
    .option('--endpoint <url>', 'Log Analytics query endpoint (default https://api.loganalytics.io/v1)')
    .option('--max-events <n>', 'refuse to sort more events than this in memory (default 1000000)')
    .action(async (files: string[], flags: AuditCliOptions) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      try {
        setExit(await runAudit(files, flags, io, { abortSignal: controller.signal }));
      } finally {
        process.removeListener('SIGINT', stop);
      }
    });
}
