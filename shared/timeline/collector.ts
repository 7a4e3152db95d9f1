import { execDetailsOf } from '../audit/execRequest.js';
import type { AuditEvent, ExecDetails } from '../audit/types.js';
import { eventTimeMs } from '../audit/types.js';
import type { CollectorAction } from '../evidence/types.js';
import { HISTORY_SCRIPT_VERSIONS, HISTORY_SHELLS } from '../sources/commandhistory/historyScript.js';

/**
 * Telling the collector's own actions from the attacker's. The collector reads (lists,
 * Secret metadata) and execs one read-only script per container to fetch shell history;
 * every one of those shows in the audit log like anything else. An audit event is marked
 * as the collector's when:
 *
 *   - it is an exec of the exact history script, and its user is a known collector
 *     identity, or the manifest records a collector exec in the same pod and container
 *     within ACTION_SLACK_MS; or
 *   - its user is a known collector identity and it happened during the run.
 *
 * The same script from an unknown identity outside any recorded action is NOT marked: that
 * would let anyone hide behind the collector's command line.
 */
export const ACTION_SLACK_MS = 5 * 60_000;
const RUN_SLACK_MS = 60_000;

export interface CollectorContext {
  /** Audit usernames of the collector (manifest collector identity, --collector-user). */
  identities: readonly string[];
  /** The run's [startedAt, endedAt], epoch ms. */
  run?: { startMs: number; endMs: number };
  actions: readonly CollectorAction[];
}

/** What an exec / attach / port-forward / debug request ran (the audit library reads it: ../audit/execRequest.ts). */
export type ExecRequest = ExecDetails;

/** The exec/attach/portforward/debug details of an audit event. */
export function execRequestOf(event: AuditEvent): ExecRequest | undefined {
  return execDetailsOf(event);
}

/** True when argv is the collector's history exec ([shell, "-c", a version of the history script]). */
export function isHistoryCommand(argv: readonly string[]): boolean {
  return argv.length === 3 && (HISTORY_SHELLS as readonly string[]).includes(argv[0]!) && argv[1] === '-c' && HISTORY_SCRIPT_VERSIONS.includes(argv[2]!);
}

/** Why an audit event is the collector's, or undefined when it is not known to be. */
export function collectorReasonFor(event: AuditEvent, ctx: CollectorContext): string | undefined {
  const user = event.user?.username ?? '';
  const known = user !== '' && ctx.identities.includes(user);
  const exec = execRequestOf(event);
  if (exec?.kind === 'exec' && isHistoryCommand(exec.command)) {
    if (known) return 'collector identity ran the shell-history script';
    const t = eventTimeMs(event);
    const action = ctx.actions.find(
      (a) =>
        a.kind === 'exec' &&
        a.namespace === exec.namespace &&
        a.pod === exec.pod &&
        (exec.container === undefined || a.container === exec.container) &&
        Math.abs(Date.parse(a.at) - t) <= ACTION_SLACK_MS,
    );
    if (action) return `matches the collector exec recorded in the manifest at ${action.at}`;
    return undefined;
  }
  if (known && ctx.run) {
    const t = eventTimeMs(event);
    if (t >= ctx.run.startMs - RUN_SLACK_MS && t <= ctx.run.endMs + RUN_SLACK_MS) return 'collector identity, during the collection run';
  }
  return undefined;
}
