/**
 * `aks-evidence seal <bundle>`: seal what an interrupted run had published, as an interrupted
 * run (custody records the interruption; the manifest names the tasks that never finished).
 * Exit 3 when sealed this way (finished with gaps), 0 when the run was already sealed by its
 * own chain, 1 when it cannot be sealed (e.g. a manifest the chain does not vouch for).
 */
import type { Command } from 'commander';
import { collectorIdentity } from '../evidence/custody.js';
import { loadIngestionTarget } from '../ingestion/config.js';
import { anchorSeal } from '../pipeline/anchors.js';
import { sealInterruptedRun } from '../pipeline/sealInterrupted.js';
import { defaultAzureCredential } from '../util/azureCredential.js';
import { parseTsaUrl } from './collect.js';
import { EXIT, line, type CliIo } from './io.js';
import { openExistingRun } from './verify.js';

export interface SealCliFlags {
  reason?: string;
  tsa?: string;
  ingest?: string;
  json?: boolean;
}

export function registerSealCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('seal')
    .argument('<bundle>', 'bundle directory or Blob URL of a run that was never sealed')
    .description('seal what an interrupted run had published, as an interrupted run (exit 3; 0 if it was already sealed)')
    .option('--reason <text>', 'why the run is sealed this way (recorded in custody)', 'sealed after the collection was interrupted')
    .option('--tsa <url>', 'RFC 3161 time-stamping authority for the manifest hash')
    .option('--ingest <config>', 'send the Log Analytics custody row (ingestion target JSON or file)')
    .option('--json', 'print the seal as JSON')
    .action(async (bundle: string, flags: SealCliFlags) => {
      const tsaUrl = parseTsaUrl(flags.tsa);
      const target = flags.ingest ? await loadIngestionTarget(flags.ingest, { cwd: io.cwd, origin: '--ingest' }) : undefined;
      const store = await openExistingRun(bundle, io);
      const outcome = await sealInterruptedRun({
        store,
        collector: collectorIdentity({ runtime: 'cli', ...(io.env.USER ? { identity: io.env.USER } : {}) }),
        reason: flags.reason ?? 'sealed after the collection was interrupted',
      });
      const m = outcome.sealed.manifest;
      if (outcome.kind === 'already-sealed') {
        if (flags.json) line(io.stdout, JSON.stringify({ alreadySealed: true, runId: m.runId, manifestSha256: outcome.sealed.manifestSha256 }, null, 2));
        else line(io.stdout, `run ${m.runId} is already sealed by its own custody chain: manifest sha256 ${outcome.sealed.manifestSha256}; nothing written`);
        setExit(EXIT.ok);
        return;
      }
      const anchors = await anchorSeal({
        store,
        sealed: outcome.sealed,
        custody: outcome.custody,
        ...(tsaUrl ? { tsaUrl } : {}),
        ...(target ? { ingestion: { target, credential: await defaultAzureCredential() } } : {}),
      });
      const unfinished = m.interrupted?.unfinishedTasks ?? [];
      if (flags.json) {
        line(
          io.stdout,
          JSON.stringify(
            { runId: m.runId, bundle: store.location, manifestSha256: outcome.sealed.manifestSha256, chainHead: outcome.sealed.chainHead, interrupted: m.interrupted, anchors },
            null,
            2,
          ),
        );
      } else {
        line(io.stdout, `Run ${m.runId} sealed AS INTERRUPTED (${m.interrupted?.reason ?? ''}; last custody step before: ${m.interrupted?.lastCustodyStep ?? '?'})`);
        line(io.stdout, `  manifest sha256: ${outcome.sealed.manifestSha256}`);
        line(io.stdout, `  custody head:    ${outcome.sealed.chainHead}`);
        line(
          io.stdout,
          `  ${unfinished.length} task(s) never finished${unfinished.length ? `: ${unfinished.map((t) => `${t.source}${t.shard ? ` ${t.shard}` : ''}`).join(', ')}` : ''}`,
        );
        line(io.stdout, `  timestamp: ${anchors.timestamp.status}; log analytics: ${anchors.logAnalytics.status}`);
      }
      setExit(EXIT.gaps);
    });
}
