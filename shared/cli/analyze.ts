import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadObjects } from '../findings/objects.js';
import { analyzeRbac, grantPathText } from '../findings/rbac.js';
import { subjectText } from '../findings/rbacModel.js';
import { workloadRefText } from '../findings/tables.js';
import { SEVERITIES, isSeverity, severityRank, type AnalysisNote, type Finding, type RbacFinding, type Severity, type WorkloadFinding } from '../findings/types.js';
import { DEFAULT_ALLOWED_REGISTRIES, analyzeWorkloads } from '../findings/workloads.js';
import { InputError } from '../util/errors.js';
import { EXIT, line, processIo, type CliIo } from './io.js';
import { maxOf } from '../util/arrays.js';

/**
 * `aks-evidence analyze <files…>`: the findings of a dump, without cluster access. Findings are
 * the output, not errors: exit 0 with findings, 2 when an input cannot be read or parsed (the
 * readable ones are still analyzed) or nothing could be loaded.
 */

export interface AnalyzeCliOptions {
  format?: string;
  includeExpected?: boolean;
  severity?: string;
  /** Comma-separated registry allow-list. */
  allowedRegistries?: string;
  /** commander's --no-registry-check. */
  registryCheck?: boolean;
}

/** One finding as an NDJSON line: the same keys for RBAC and workload findings where they mean the same. */
export function findingToJson(f: Finding): Record<string, unknown> {
  if (f.type === 'workload') {
    return {
      type: 'workload',
      ruleId: f.ruleId,
      severity: f.severity,
      title: f.title,
      object: { kind: f.kind, namespace: f.namespace, name: f.name },
      ...(f.containerName !== undefined ? { container: f.containerName, containerType: f.containerType } : {}),
      fieldPath: f.fieldPath,
      serviceAccount: f.serviceAccount,
      ...(f.owner ? { owner: f.owner } : {}),
      details: f.details,
    };
  }
  const declaredIn =
    f.grant.aggregatedFrom && f.grant.aggregatedFrom.length > 0
      ? { kind: 'ClusterRole', name: f.grant.aggregatedFrom[f.grant.aggregatedFrom.length - 1] }
      : { kind: f.grant.roleKind, name: f.grant.roleName };
  return {
    type: 'rbac',
    ruleId: f.ruleId,
    severity: f.severity,
    title: f.title,
    object: { kind: f.grant.bindingKind, ...(f.grant.bindingNamespace ? { namespace: f.grant.bindingNamespace } : {}), name: f.grant.bindingName },
    subject: f.subject,
    scope: f.scopeNamespace,
    binding: { kind: f.grant.bindingKind, ...(f.grant.bindingNamespace ? { namespace: f.grant.bindingNamespace } : {}), name: f.grant.bindingName },
    role: { kind: f.grant.roleKind, name: f.grant.roleName },
    ...(f.grant.aggregatedFrom ? { aggregatedFrom: f.grant.aggregatedFrom } : {}),
    ruleIndexes: f.grant.ruleIndexes,
    ...(f.grant.ruleIndexes.length > 0 ? { fieldPath: `rules[${f.grant.ruleIndexes[0]}]`, declaredIn } : {}),
    grantPath: grantPathText(f.grant),
    verbs: f.verbs,
    resources: f.resources,
    apiGroups: f.apiGroups,
    ...(f.resourceNames ? { resourceNames: f.resourceNames } : {}),
    expected: f.expected,
    ...(f.expectedReason ? { expectedReason: f.expectedReason } : {}),
    workloads: f.workloads.map(workloadRefText),
    workloadCount: f.workloadCount,
    details: f.details,
  };
}

function table(rows: string[][], header: string[]): string[] {
  const widths = header.map((h, i) =>
    maxOf(
      rows.map((r) => (r[i] ?? '').length),
      h.length,
    ),
  );
  const format = (r: string[]) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(header), format(widths.map((w) => '-'.repeat(w))), ...rows.map(format)];
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The readable form: one aligned table for RBAC findings, one for workload findings. */
export function formatFindingsTable(rbac: readonly RbacFinding[], workloads: readonly WorkloadFinding[]): string[] {
  const out: string[] = [];
  out.push(`RBAC findings (${rbac.length})`);
  if (rbac.length > 0) {
    out.push(
      ...table(
        rbac.map((f) => [
          f.severity.toUpperCase() + (f.expected ? ' (expected)' : ''),
          f.ruleId,
          subjectText(f.subject),
          f.scopeNamespace,
          grantPathText(f.grant),
          f.workloadCount > 0 ? `${f.workloadCount}: ${clip(f.workloads.slice(0, 3).map(workloadRefText).join(', '), 80)}` : '',
        ]),
        ['SEVERITY', 'RULE', 'SUBJECT', 'SCOPE', 'GRANTED BY', 'WORKLOADS'],
      ),
    );
  }
  out.push('');
  out.push(`Workload findings (${workloads.length})`);
  if (workloads.length > 0) {
    out.push(
      ...table(
        workloads.map((f) => [
          f.severity.toUpperCase(),
          f.ruleId,
          `${f.kind} ${f.namespace}/${f.name}`,
          f.containerName ? `${f.containerName}${f.containerType && f.containerType !== 'container' ? ` (${f.containerType})` : ''}` : '',
          f.fieldPath,
          clip(f.details, 100),
        ]),
        ['SEVERITY', 'RULE', 'OBJECT', 'CONTAINER', 'FIELD PATH', 'DETAILS'],
      ),
    );
  }
  return out;
}

function parseOptions(flags: AnalyzeCliOptions): { format: 'ndjson' | 'table'; minSeverity: Severity; allowed: readonly string[] | false; includeExpected: boolean } {
  const format = flags.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'table') throw new InputError('--format', `"${format}" is not a format; use ndjson or table`);
  const severity = flags.severity ?? 'info';
  if (!isSeverity(severity)) throw new InputError('--severity', `"${severity}" is not a severity; use one of ${SEVERITIES.join(', ')}`);
  let allowed: readonly string[] | false = DEFAULT_ALLOWED_REGISTRIES;
  if (flags.registryCheck === false) allowed = false;
  else if (flags.allowedRegistries !== undefined) {
    const list = flags.allowedRegistries
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0) throw new InputError('--allowed-registries', 'give at least one registry (or --no-registry-check)');
    allowed = list;
  }
  return { format, minSeverity: severity, allowed, includeExpected: flags.includeExpected === true };
}

/** The command's work; returns the exit code. */
export async function runAnalyze(paths: readonly string[], flags: AnalyzeCliOptions, io: CliIo): Promise<number> {
  const options = parseOptions(flags);
  const loaded = await loadObjects(paths.map((p) => resolve(io.cwd, p)));
  for (const s of loaded.skipped) {
    const where = [s.document !== undefined ? `document ${s.document}` : '', s.line !== undefined ? `line ${s.line}` : '', s.item !== undefined ? `item ${s.item}` : '']
      .filter(Boolean)
      .join(', ');
    line(io.stderr, `${s.fatal ? 'error' : 'skipped'}: ${s.file}${where ? ` (${where})` : ''}: ${s.reason}`);
  }

  if (loaded.duplicates > 0) line(io.stderr, `note: ${loaded.duplicates} duplicate object(s) (same kind and uid or name, e.g. from several artifacts of one bundle) counted once`);

  const rbac = analyzeRbac(loaded.objects);
  const workloads = analyzeWorkloads(loaded.objects, { allowedRegistries: options.allowed });
  const keep = (f: Finding) => severityRank(f.severity) >= severityRank(options.minSeverity);
  const rbacShown = rbac.findings.filter((f) => (options.includeExpected || !f.expected) && keep(f));
  const workloadsShown = workloads.findings.filter(keep);

  if (options.format === 'ndjson') {
    for (const f of [...rbacShown, ...workloadsShown]) line(io.stdout, JSON.stringify(findingToJson(f)));
  } else {
    for (const l of formatFindingsTable(rbacShown, workloadsShown)) line(io.stdout, l);
  }

  const notes: AnalysisNote[] = [...rbac.notes, ...workloads.notes];
  for (const n of notes) line(io.stderr, `note: ${n.message}`);
  const hiddenExpected = options.includeExpected ? 0 : rbac.findings.filter((f) => f.expected && keep(f)).length;
  line(
    io.stderr,
    `analyzed ${loaded.objects.length} object(s) from ${loaded.files.length} file(s): ${rbacShown.length} RBAC and ${workloadsShown.length} workload finding(s)` +
      (hiddenExpected > 0 ? `; ${hiddenExpected} expected default-binding finding(s) hidden (--include-expected shows them)` : ''),
  );
  const fatal = loaded.skipped.some((s) => s.fatal);
  if (loaded.objects.length === 0) {
    line(io.stderr, 'error: no Kubernetes objects could be read from the input');
    return EXIT.input;
  }
  return fatal ? EXIT.input : EXIT.ok;
}

export function registerAnalyzeCommand(
  program: Command,
  io: CliIo = processIo(),
  setExit: (code: number) => void = (code) => {
    process.exitCode = code;
  },
): void {
  program
    .command('analyze')
    .argument('<files...>', 'YAML/JSON files or directories: kubectl get -o yaml|json output, multi-document YAML, Lists, NDJSON (.gz too)')
    .description('find RBAC risks and dangerous workloads in Kubernetes objects read from files (no cluster access); findings go to stdout, one per line')
    .option('--format <format>', 'ndjson (one finding per line) or table', 'ndjson')
    .option('--include-expected', 'also show findings of documented default Kubernetes/AKS bindings')
    .option('--severity <min>', `minimum severity: ${SEVERITIES.join(', ')}`, 'info')
    .option('--allowed-registries <list>', `comma-separated image registry allow-list ('*.example.com' for subdomains); default ${DEFAULT_ALLOWED_REGISTRIES.join(',')}`)
    .option('--no-registry-check', 'do not flag images from registries outside the allow-list')
    .action(async (files: string[], flags: AnalyzeCliOptions) => {
      setExit(await runAnalyze(files, flags, io));
    });
}
