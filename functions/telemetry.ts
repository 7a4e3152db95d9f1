import type { InvocationContext, PostInvocationContext, PreInvocationContext } from '@azure/functions';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { activityInputAttributes, activityResultAttributes, attributesSuffix, cleanAttributes, errorCodeOf, type RunAttributes } from '../shared/orchestration/telemetry.js';
import { describeError } from '../shared/util/errors.js';
import { redactSecrets } from '../shared/util/redact.js';
import { TOOL_VERSION } from '../shared/cli/version.js';

/**
 * Telemetry a responder can query: every log line of the app carries the run's id, case,
 * cluster, and for collect tasks the source and shard, as structured attributes.
 *
 * - The invocation hooks (registered in index.ts with app.hook.preInvocation/postInvocation)
 *   log the start and end of every activity and the end of every HTTP call, with the
 *   attributes read from the activity's input and result: one shape, not a copy per handler.
 * - Each line goes to the host's log channel (context.log: the log stream, `func start`, and
 *   Application Insights through the host) with the attributes appended as text, and, when an
 *   OpenTelemetry LoggerProvider is registered (the Azure Monitor distro, started by
 *   startTelemetry when APPLICATIONINSIGHTS_CONNECTION_STRING is set), as an OpenTelemetry log
 *   record whose attributes become customDimensions: `traces | where customDimensions.RunId == "<runId>"`.
 *
 * Attributes are identifiers and counts only; messages are redacted once more before they leave.
 */

const LOGGER_NAME = 'aks-evidence';
const STARTED = 'aksEvidenceStartedAt';

type Level = 'info' | 'warn' | 'error';
const SEVERITY: Record<Level, SeverityNumber> = { info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };

const invocationAttributes = new WeakMap<InvocationContext, RunAttributes>();

/** Attach run attributes to an invocation: every later line of it carries them (HTTP handlers call this once they know the run). */
export function setRunAttributes(context: InvocationContext, attributes: RunAttributes): void {
  invocationAttributes.set(context, cleanAttributes({ ...invocationAttributes.get(context), ...attributes }));
}

/** Log one line of an invocation with its run attributes (plus `attributes` for this line only). */
export function logRun(context: InvocationContext, level: Level, message: string, attributes: RunAttributes = {}): void {
  const merged = cleanAttributes({ ...invocationAttributes.get(context), ...attributes });
  const body = redactSecrets(message);
  const line = `${body}${attributesSuffix(merged)}`;
  if (level === 'error') context.error(line);
  else if (level === 'warn') context.warn(line);
  else context.log(line);
  logs.getLogger(LOGGER_NAME, TOOL_VERSION).emit({
    severityNumber: SEVERITY[level],
    severityText: level.toUpperCase(),
    body,
    attributes: { ...merged, FunctionName: context.functionName, InvocationId: context.invocationId },
  });
}

type TriggerKind = 'activity' | 'http' | 'orchestration' | 'other';

function triggerKind(context: InvocationContext): TriggerKind {
  const type = context.options.trigger.type;
  if (type === 'activityTrigger') return 'activity';
  if (type === 'httpTrigger') return 'http';
  if (type === 'orchestrationTrigger' || type === 'entityTrigger') return 'orchestration';
  return 'other';
}

/**
 * Before a function runs: activities log their start with the run attributes their input names.
 * Orchestrators are skipped (they replay on every event: a line per replay is noise, and the
 * activities tell the story).
 */
export function preInvocationTelemetry(hook: PreInvocationContext): void {
  const context = hook.invocationContext;
  hook.hookData[STARTED] = performance.now();
  if (triggerKind(context) !== 'activity') return;
  setRunAttributes(context, activityInputAttributes(context.functionName, hook.inputs[0]));
  logRun(context, 'info', `${context.functionName} started`);
}

/** After a function ran: its outcome (activity status and counts, HTTP status) or its failure's first line, and how long it took. */
export function postInvocationTelemetry(hook: PostInvocationContext): void {
  const context = hook.invocationContext;
  const kind = triggerKind(context);
  if (kind === 'orchestration') return;
  const started = hook.hookData[STARTED];
  const DurationMs = typeof started === 'number' ? Math.round(performance.now() - started) : undefined;
  if (hook.error !== undefined && hook.error !== null) {
    const first = describeError(hook.error).split('\n')[0] ?? '';
    logRun(context, 'error', `${context.functionName} failed: ${first}`, {
      Outcome: 'failed',
      ErrorCode: errorCodeOf(hook.error) ?? 'ERR_UNEXPECTED',
      ...(DurationMs !== undefined ? { DurationMs } : {}),
    });
    return;
  }
  if (kind === 'activity') {
    logRun(context, 'info', `${context.functionName} finished`, {
      ...activityResultAttributes(context.functionName, hook.result),
      ...(DurationMs !== undefined ? { DurationMs } : {}),
    });
  } else if (kind === 'http') {
    const status = (hook.result as { status?: unknown } | undefined)?.status;
    const outcome = typeof status === 'number' ? String(status) : '200';
    logRun(context, Number(outcome) >= 500 ? 'error' : 'info', `${context.functionName} answered ${outcome}`, {
      Outcome: outcome,
      ...(DurationMs !== undefined ? { DurationMs } : {}),
    });
  }
}

/**
 * Start exporting log records to Application Insights through the Azure Monitor OpenTelemetry
 * distro when the app has a connection string; otherwise log records stay on the host's
 * channel only. Logs only: the distro's HTTP, Azure SDK and database instrumentations are off
 * (every Kubernetes API call as a dependency record would cost more than it tells).
 * Returns whether exporting started.
 */
export async function startTelemetry(env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  const connectionString = env['APPLICATIONINSIGHTS_CONNECTION_STRING'];
  if (!connectionString) return false;
  const [{ useAzureMonitor }, { DefaultAzureCredential, ManagedIdentityCredential }] = await Promise.all([import('@azure/monitor-opentelemetry'), import('@azure/identity')]);
  // The template turns local auth off on Application Insights: export with the app's identity
  // (APPLICATIONINSIGHTS_AUTHENTICATION_STRING "ClientId=<id>;Authorization=AAD", as the host uses it).
  const authentication = env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING'] ?? '';
  const clientId = /(?:^|;)\s*ClientId=([^;]+)/i.exec(authentication)?.[1]?.trim();
  const credential = /Authorization=AAD/i.test(authentication)
    ? clientId
      ? new ManagedIdentityCredential({ clientId })
      : new ManagedIdentityCredential()
    : env['AZURE_CLIENT_ID']
      ? new DefaultAzureCredential({ managedIdentityClientId: env['AZURE_CLIENT_ID'] })
      : undefined;
  const off = { enabled: false };
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
    enableLiveMetrics: false,
    enableStandardMetrics: false,
    enablePerformanceCounters: false,
    instrumentationOptions: { http: off, azureSdk: off, mongoDb: off, mySql: off, postgreSql: off, redis: off, redis4: off, bunyan: off, winston: off, console: off },
  });
  return true;
}
