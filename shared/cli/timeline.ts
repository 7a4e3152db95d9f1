import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseAuditInput } from '../audit/parse.js';
import { loadAuditRules } from '../audit/rules.js';
import type { AuditEvent } from '../audit/types.js';
import { readManifest } from '../evidence/manifest.js';
import { buildTimeline, DEFAULT_TIMELINE_SOURCES } from '../timeline/build.js';
import { writeTimeline } from '../timeline/format.js';
import type { TimelineFilter, TimelineFormat } from '../timeline/types.js';
import { describeError, InputError } from '../util/errors.js';
import { parseDurationSeconds } from '../util/time.js';
import { EXIT, line, type CliIo } from './io.js';
import { openExistingRun } from './verify.js';

export interface TimelineCliOptions {
  format?: string;
  user?: string;
  namespace?: string;
  pod?: string;
  since?: string;
  until?: string;
  sources?: string;
  labelled?: boolean;
  hideCollector?: boolean;
  targets?: boolean;
  collectorUser?: string[];
  auditFile?: string[];
  rules?: string[];
  allowCidr?: string[];
  maxEntries?: string;
}

const FORMATS: readonly TimelineFormat[] = ['table', 'csv', 'json'];

export function parseFormat(text: string | undefined): TimelineFormat {
  const f = (text ?? 'table') as TimelineFormat;
  if (!FORMATS.includes(f)) throw new InputError('--format', `"${text}" is not one of ${FORMATS.join(', ')}`);
  return f;
}

/** An RFC 3339 time, or a duration (24h) counted back from `reference`. */
export function parseTimeBound(field: string, text: string, reference: Date): number {
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw new InputError(field, `"${text}" is not a valid RFC 3339 time`);
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(text)) throw new InputError(field, `"${text}" has no time zone: add Z for UTC`);
    return ms;
  }
  try {
    return reference.getTime() - parseDurationSeconds(text) * 1000;
  } catch (error) {
    throw new InputError(field, `use an RFC 3339 time (2026-11-22T10:00:00Z) or a duration before the end of the run (90m, 24h): ${describeError(error)}`);
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

async function* readAuditFiles(files: readonly string[], cwd: string, io: CliIo): AsyncGenerator<AuditEvent> {
  for (const file of files) {
    const path = resolve(cwd, file);
    let problems = 0;
    yield* parseAuditInput(createReadStream(path), { onProblem: () => problems++ });
    if (problems) line(io.stderr, `aks-evidence: ${file}: ${problems} record(s) could not be read as audit events`);
  }
}

/** The timeline command's work, callable from tests. */
export async function runTimeline(bundle: string, flags: TimelineCliOptions, io: CliIo): Promise<number> {
  const format = parseFormat(flags.format);
  const store = await openExistingRun(bundle, io);
  const manifest = await readManifest(store);
  const reference = new Date(manifest.endedAt);
  const filter: TimelineFilter = {
    ...(flags.user ? { user: flags.user } : {}),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
    ...(flags.pod ? { pod: flags.pod } : {}),
    ...(flags.since ? { sinceMs: parseTimeBound('--since', flags.since, reference) } : {}),
    ...(flags.until ? { untilMs: parseTimeBound('--until', flags.until, reference) } : {}),
    ...(flags.labelled ? { labelledOnly: true } : {}),
    ...(flags.hideCollector ? { hideCollector: true } : {}),
    ...(flags.targets ? { targetsOnly: true } : {}),
  };
  if (flags.sources) {
    const names = flags.sources
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const known = new Set<string>([...DEFAULT_TIMELINE_SOURCES, ...manifest.artifacts.map((a) => a.source), 'all']);
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length) throw new InputError('--sources', `${unknown.join(', ')}: not in this bundle; choose from ${[...known].sort().join(', ')}`);
    filter.sources = names.includes('all') ? [...new Set([...DEFAULT_TIMELINE_SOURCES, ...manifest.artifacts.map((a) => a.source), ...names.filter((n) => n !== 'all')])] : names;
  }
  let maxEntries: number | undefined;
  if (flags.maxEntries !== undefined) {
    maxEntries = Number(flags.maxEntries);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new InputError('--max-entries', `"${flags.maxEntries}" is not a positive whole number`);
  }
  const rules = flags.rules?.length ? await loadAuditRules({ userDirs: flags.rules.map((d) => resolve(io.cwd, d)) }) : undefined;
  const result = await buildTimeline(store, {
    filter,
    ...(flags.collectorUser?.length ? { collectorUsers: flags.collectorUser } : {}),
    ...(flags.auditFile?.length ? { extraAuditEvents: readAuditFiles(flags.auditFile, io.cwd, io) } : {}),
    ...(rules ? { rules } : {}),
    ...(flags.allowCidr?.length ? { allowedNetworks: flags.allowCidr } : {}),
    ...(maxEntries ? { maxEntries } : {}),
  });
  await writeTimeline(result.entries, format, io.stdout, result.untimed);
  for (const note of result.notes) line(io.stderr, `note: ${note}`);
  return EXIT.ok;
}

export function registerTimelineCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('timeline')
    .argument('<bundle>', 'bundle directory (<out>/<runId>) or Blob URL of a run (<container>/<caseId>/<runId>)')
    .description(
      "one chronological view of a bundle: audit events with their labels, Kubernetes events, container logs, command history, findings; the collector's own actions are marked *",
    )
    .option('--format <format>', 'table | csv | json', 'table')
    .option('--user <user>', 'only this user or service account (glob with *, or namespace/name for a service account)')
    .option('--namespace <namespace>', 'only this namespace')
    .option('--pod <pod>', 'only this pod (name or namespace/name)')
    .option('--since <time>', 'from this time: RFC 3339, or a duration before the end of the run (e.g. 6h)')
    .option('--until <time>', 'up to this time: RFC 3339, or a duration before the end of the run')
    .option('--sources <list>', `comma-separated sources (default ${DEFAULT_TIMELINE_SOURCES.join(',')} and findings; "all" adds inventory tables)`)
    .option('--labelled', 'only labelled audit events and findings')
    .option('--hide-collector', "leave out the collector's own actions")
    .option('--targets', 'only entries about the pods, namespaces and nodes the incident named (marked > in the table)')
    .option('--collector-user <user>', 'an audit username of the collector (repeatable), besides the manifest identity', collect)
    .option('--audit-file <file>', 'merge audit events from a file exported later (repeatable; any supported shape)', collect)
    .option('--rules <dir>', 'extra audit rules directory for events labelled now (repeatable)', collect)
    .option('--allow-cidr <cidr>', 'expected client network for the unexpected-source-network rule (repeatable)', collect)
    .option('--max-entries <n>', 'refuse to hold more entries than this in memory (default 1000000)')
    .action(async (bundle: string, flags: TimelineCliOptions) => {
      setExit(await runTimeline(bundle, flags, io));
    });
}
