import type { Command } from 'commander';
import { loadKubeConfig } from '../cluster/kubeConfig.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNdjson } from '../evidence/ndjson.js';
import type { EvidenceStore, Manifest } from '../evidence/types.js';
import { verifyBundle } from '../evidence/verify.js';
import { EXIT, line, type CliIo } from './io.js';
import { printCollectSummary, runCollect, type CollectCliOptions } from './collect.js';
import { runReport } from './report.js';
import { openExistingRun, printVerifyReport } from './verify.js';

/** Rows of one table in a sealed bundle. */
async function* tableRows(store: EvidenceStore, manifest: Manifest, table: string): AsyncIterable<Record<string, unknown>> {
  for (const a of manifest.artifacts) {
    if (a.kind === 'rows' && a.table === table) {
      for await (const row of readNdjson(store, a.path)) yield row as Record<string, unknown>;
    }
  }
}

async function take(rows: AsyncIterable<Record<string, unknown>>, n: number, keep: (r: Record<string, unknown>) => boolean = () => true) {
  const out: Record<string, unknown>[] = [];
  let total = 0;
  for await (const r of rows) {
    if (!keep(r)) continue;
    total++;
    if (out.length < n) out.push(r);
  }
  return { out, total };
}

const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** The demo bundle's report, verified, written next to the bundle (never into it). */
function writeDemoReport(store: EvidenceStore, runId: string, flags: { out?: string }, io: CliIo) {
  return runReport(fileURLToPath(store.location), { store, output: join(flags.out ?? 'evidence', `${runId}.report.html`), quiet: true }, io);
}

/**
 * The demo: starts the compromise scenario on the loopback fixture API server (a SIMULATED
 * cluster), collects it with the real pipeline, verifies the bundle, shows what was found, and
 * ends by writing the bundle's report (an HTML file next to the bundle) and printing its path.
 */
export async function runDemo(flags: { out?: string; json?: boolean }, io: CliIo): Promise<number> {
  // The simulated cluster is a product module (shared/simulator), loaded only by the demo.
  const { startFixtureCluster } = await import('../simulator/kube/server.js');
  const { loadScenario } = await import('../simulator/kube/loadScenario.js');
  const scenario = await loadScenario('compromise');
  const cluster = await startFixtureCluster(scenario, {});
  try {
    line(io.stderr, '==================================================================');
    line(io.stderr, ' aks-evidence DEMO — SIMULATED CLUSTER (loopback fixture API server)');
    line(io.stderr, ` scenario "${scenario.name}": ${scenario.description ?? ''}`);
    line(io.stderr, ` API server ${cluster.server} — nothing here touches a real cluster`);
    line(io.stderr, ` exec (shell histories): ${cluster.exec.mode} — ${cluster.exec.detail}`);
    line(io.stderr, '==================================================================');
    const kc = loadKubeConfig({ kubeconfigYaml: cluster.kubeconfigYaml });
    const flagsForCollect: CollectCliOptions = {
      out: flags.out ?? 'evidence',
      case: 'demo-compromise',
      reason: 'aks-evidence demo on a simulated cluster',
      quiet: flags.json === true,
    };
    const outcome = await runCollect(flagsForCollect, io, { kubeConfig: kc, clusterName: 'simulated-compromise' });
    const manifest = outcome.sealed.manifest;
    if (flags.json) {
      const store = await openExistingRun(outcome.sealed.location, io);
      const report = await verifyBundle(store);
      const html = await writeDemoReport(store, manifest.runId, flags, io);
      line(
        io.stdout,
        JSON.stringify(
          { simulated: true, runId: manifest.runId, bundle: outcome.sealed.location, manifestSha256: outcome.sealed.manifestSha256, verified: report.ok, report: html.path },
          null,
          2,
        ),
      );
      return report.ok && html.verified ? EXIT.ok : EXIT.failed;
    }
    printCollectSummary(outcome, io);

    const store = await openExistingRun(outcome.sealed.location, io);
    line(io.stdout, '');
    line(io.stdout, '== verify ==');
    const report = await verifyBundle(store);
    printVerifyReport(report, store.location, io);

    line(io.stdout, '');
    line(io.stdout, '== what the evidence shows (SIMULATED CLUSTER) ==');
    const rbac = await take(tableRows(store, manifest, 'rbacfindings_CL'), 8, (r) => r.expected !== true && (r.severity === 'critical' || r.severity === 'high'));
    line(io.stdout, `RBAC findings, critical/high (${rbac.total}):`);
    for (const r of rbac.out)
      line(
        io.stdout,
        `  [${s(r.severity)}] ${s(r.rule_id)}: ${s(r.subject_kind)} ${s(r.subject_name)} via ${s(r.binding_kind)}/${s(r.binding_name)} → ${s(r.role_kind)}/${s(r.role_name)}`,
      );
    const pods = await take(tableRows(store, manifest, 'suspiciouspods_CL'), 10, (r) => r.severity === 'high' || r.severity === 'critical');
    line(io.stdout, `Suspicious pod settings, high (${pods.total}):`);
    for (const r of pods.out) line(io.stdout, `  ${s(r.namespace)}/${s(r.pod_name)} ${s(r.container_name)}: ${s(r.issue_type)} — ${s(r.details)} (${s(r.field_path)})`);
    const cron = await take(tableRows(store, manifest, 'cronjobs_CL'), 5, (r) => /\|\s*(ba|da)?sh\b/.test(s(r.command) + ' ' + s(r.args)));
    line(io.stdout, `CronJobs piping a download into a shell (${cron.total}):`);
    for (const r of cron.out) line(io.stdout, `  ${s(r.namespace)}/${s(r.cronjob_name)} [${s(r.schedule)}] ${s(r.image)}: ${s(r.command)} ${s(r.args)}`);
    const hist = await take(tableRows(store, manifest, 'commandhistory_CL'), 12);
    line(io.stdout, `Shell history lines (${hist.total}):`);
    for (const r of hist.out) line(io.stdout, `  ${s(r.namespace)}/${s(r.pod_name)}/${s(r.container_name)} ${s(r.history_file)}: ${s(r.command)}`);
    const warn = await take(tableRows(store, manifest, 'kubeevents_CL'), 5, (r) => r.event_type === 'Warning');
    line(io.stdout, `Warning events (${warn.total}):`);
    for (const r of warn.out) line(io.stdout, `  ${s(r.TimeGenerated)} ${s(r.reason)} ${s(r.involved_object_kind)}/${s(r.involved_object_name)}: ${s(r.message)}`);
    line(io.stdout, '');
    line(io.stdout, `Collector's own actions: ${manifest.actions.length} exec(s), each recorded with pod, container, command and outcome in manifest.json.`);
    line(io.stdout, `Re-check any time: npx aks-evidence verify ${fileURLToPath(store.location)}`);
    const html = await writeDemoReport(store, manifest.runId, flags, io);
    line(io.stdout, '');
    line(io.stdout, '== report ==');
    line(io.stdout, 'One self-contained HTML file (works offline): case, verification, coverage and gaps, timeline, findings, exec commands.');
    line(io.stdout, `Report: ${html.path}`);
    return report.ok && html.verified ? EXIT.ok : EXIT.failed;
  } finally {
    await cluster.stop();
  }
}

export function registerDemoCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('collect the built-in compromise scenario from a SIMULATED cluster (loopback fixture), verify it, and show the findings')
    .option('--out <dir>', 'evidence directory', 'evidence')
    .option('--json', 'print one JSON summary on stdout')
    .action(async (flags: { out?: string; json?: boolean }) => {
      setExit(await runDemo(flags, io));
    });
}
