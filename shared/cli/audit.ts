import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { defaultAzureCredential } from '../util/azureCredential.js';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import type { Command } from 'commander';
import { followAudit, type AuditWindowFetch } from '../audit/follow.js';
import { createAuditLabeler, type AuditLabeler } from '../audit/label.js';
import { parseAuditInput } from '../audit/parse.js';
import { loadAuditRules } from '../audit/rules.js';
import { selectFinalEvents } from '../audit/stages.js';
import type { AuditEvent, AuditLabel } from '../audit/types.js';
import { eventTimeMs } from '../audit/types.js';
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

export const LABEL_CSV_COLUMNS = ['time', 'severity', 'rule_id', 'title', 'user', 'verb', 'resource', 'namespace', 'name', 'source_ip', 'response_code', 'audit_id', 'matched'] as const;

function labelValues(l: AuditLabel): unknown[] {
  const ref = l.objectRef;
  const resource = ref?.resource ? `${ref.apiGroup ? `${ref.apiGroup}/` : ''}${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}` : '';
  return [l.time, l.severity, l.ruleId, l.title, l.user, l.verb, resource, ref?.namespace ?? '', ref?.name ?? '', l.sourceIP ?? '', l.responseCode ?? '', l.auditID, JSON.stringify(l.matched)];
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
      this.out.write(this.format === 'csv' ? `${LABEL_CSV_COLUMNS.join(',')}\n` : `${'TIME (UTC)'.padEnd(27)} ${'SEVERITY'.padEnd(8)} ${'RULE'.padEnd(30)} ${'USER'.padEnd(40)} WHAT / MATCHED\n`);
    }
    const v = labelValues(label);
    if (this.format === 'csv') {
      this.out.write(`${v.map(csvField).join(',')}\n`);
      return;
    }
    const what = `${label.verb} ${String(v[6])} ${label.objectRef?.namespace ? `${label.objectRef.namespace}/` : ''}${label.objectRef?.name ?? ''}`.trim();
    const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s).padEnd(n);
    this.out.write(`${cut(label.time, 27)} ${cut(label.severity, 8)} ${cut(label.ruleId, 30)} ${cut(label.user, 40)} ${oneLine(`${what}  ${JSON.stringify(label.matched)}`, 500)}\n`);
  }
}

/** Tail NDJSON files: each poll reads what was appended since the last one (complete lines only). */
export function fileTailFetch(paths: readonly string[], onProblem: (file: string, message: string) => void): AuditWindowFetch {
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
      yield* parseAuditInput(complete, { onProblem: (p) => onProblem(path, p.message) });
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

export async function runAudit(files: readonly string[], flags: AuditCliOptions, io: CliIo, options: RunAuditOptions = {}): Promise<number> {
  const format = parseFormat(flags.format);
  const clock = options.clock ?? systemClock;
  if (files.length === 0 && !flags.workspace) throw new InputError('files', 'give one or more audit files, or --workspace with --cluster');
  if (flags.workspace && !flags.cluster) throw new InputError('--cluster', 'the AKS cluster resource id is required with --workspace');
  const rules = await loadAuditRules({
    ...(flags.rules?.length ? { userDirs: flags.rules.map((d) => resolve(io.cwd, d)) } : {}),
    ...(flags.builtinRules === false ? { builtIn: false } : {}),
  });
  const labeler = createAuditLabeler(rules, flags.allowCidr?.length ? { allowedNetworks: flags.allowCidr } : {});
  const printer = new LabelPrinter(io.stdout, format);
  const paths = files.map((f) => resolve(io.cwd, f));
  let problems = 0;
  const onProblem = (file: string, message: string) => {
    problems++;
    if (problems <= 5) line(io.stderr, `aks-evidence: ${file}: ${message}`);
  };
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
        onGap: (g) => line(io.stderr, `gap: ${g.reason}: ${g.detail}`),
        onProblem: (p) => onProblem('workspace', p.message),
      });
    };
  };

  let events = 0;
  if (flags.follow) {
    const intervalMs = parseDurationSeconds(flags.interval ?? (flags.workspace ? '60s' : '2s')) * 1000;
    if (intervalMs < 1000) throw new InputError('--interval', 'must be at least 1s');
    const fetch = flags.workspace ? workspaceFetch() : fileTailFetch(paths, onProblem);
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
      ? workspaceFetch()({
          start: new Date(parseTimeBound('--since', flags.since ?? '24h', clock())),
          end: flags.until ? new Date(parseTimeBound('--until', flags.until, clock())) : clock(),
        }) as AsyncIterable<AuditEvent>
      : (async function* () {
          for (const p of paths) yield* parseAuditInput(createReadStream(p), { onProblem: (x) => onProblem(p, `${x.line ? `line ${x.line}: ` : ''}${x.message}`) });
        })();
    // Threshold and correlate rules need time order; exports are often newest first.
    const finals: AuditEvent[] = [];
    for await (const e of selectFinalEvents(source)) {
      if (finals.length >= maxEvents) throw new InputError('--max-events', `more than ${maxEvents} audit events: split the input or raise --max-events`);
      finals.push(e);
    }
    finals.sort((a, b) => eventTimeMs(a) - eventTimeMs(b));
    for (const e of finals) {
      events++;
      tally(labeler.push(e));
    }
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  line(io.stderr, `${events} audit event(s), ${total} label(s)${counts.size ? `: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}${problems ? `; ${problems} record(s) unreadable` : ''}`);
  return EXIT.ok;
}

export function registerAuditCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('audit')
    .argument('[files...]', 'audit files: raw audit.k8s.io lines, AKS diagnostic records, exported Log Analytics rows (JSON, NDJSON or CSV)')
    .description('label Kubernetes audit events with the detection rules and print the labels')
    .option('--rules <dir>', 'directory of extra YAML rules (repeatable); a rule with a built-in id replaces it', collect)
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
