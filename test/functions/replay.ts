/**
 * Replays an orchestrator through durable-functions' own engine (createOrchestrator, the
 * function df.app.orchestration registers) over a history built from the library's own
 * history event classes: what the Durable extension sends the worker on every episode.
 */
import type { OrchestrationHandler } from 'durable-functions';
import { ExecutionStartedEvent } from 'durable-functions/lib/src/history/ExecutionStartedEvent.js';
import { HistoryEventOptions } from 'durable-functions/lib/src/history/HistoryEventOptions.js';
import { OrchestratorCompletedEvent } from 'durable-functions/lib/src/history/OrchestratorCompletedEvent.js';
import { OrchestratorStartedEvent } from 'durable-functions/lib/src/history/OrchestratorStartedEvent.js';
import { TaskCompletedEvent } from 'durable-functions/lib/src/history/TaskCompletedEvent.js';
import { TaskFailedEvent } from 'durable-functions/lib/src/history/TaskFailedEvent.js';
import { TaskScheduledEvent } from 'durable-functions/lib/src/history/TaskScheduledEvent.js';
import { TimerCreatedEvent } from 'durable-functions/lib/src/history/TimerCreatedEvent.js';
import { TimerFiredEvent } from 'durable-functions/lib/src/history/TimerFiredEvent.js';
import { createOrchestrator, DummyOrchestrationContext, DurableOrchestrationInput } from 'durable-functions/lib/src/util/testingUtils.js';

export interface ReplayResult {
  isDone: boolean;
  /** Actions as the worker reports them (schema V1: one array per yield, Task.all flattened). */
  actions: { actionType: number; functionName?: string; input?: unknown; retryOptions?: unknown }[][];
  output?: unknown;
  customStatus?: unknown;
  /** Set when the orchestrator threw (the engine reports it as a failed orchestration). */
  error?: string;
}

export const ACTION = { CallActivity: 0, CallActivityWithRetry: 1, CreateTimer: 5 } as const;

function options(eventId: number, at: Date, extra: Record<string, unknown> = {}): HistoryEventOptions {
  const o = new HistoryEventOptions(eventId, at, false);
  Object.assign(o, extra);
  return o;
}

/** A history, appended event by event, with a clock that moves one second per episode. */
export class History {
  readonly events: Record<string, unknown>[] = [];
  private clock: number;

  constructor(start: Date, name: string, input: unknown) {
    this.clock = start.getTime();
    this.events.push(new OrchestratorStartedEvent(options(-1, this.now())));
    this.events.push(new ExecutionStartedEvent(options(-1, this.now(), { name, input: JSON.stringify(input) })));
  }

  private now(): Date {
    return new Date(this.clock);
  }

  /** End the current episode and start the next one (time advances by `ms`). */
  episode(ms = 1000): this {
    this.events.push(new OrchestratorCompletedEvent(options(-1, this.now())));
    this.clock += ms;
    this.events.push(new OrchestratorStartedEvent(options(-1, this.now())));
    return this;
  }

  scheduled(id: number, name: string, input?: unknown): this {
    this.events.push(new TaskScheduledEvent(options(id, this.now(), { name, input: input === undefined ? undefined : JSON.stringify(input) })));
    return this;
  }

  completed(id: number, result: unknown): this {
    this.events.push(new TaskCompletedEvent(options(-1, this.now(), { taskScheduledId: id, result: JSON.stringify(result) })));
    return this;
  }

  failed(id: number, reason: string, details = 'stack trace'): this {
    this.events.push(new TaskFailedEvent(options(-1, this.now(), { taskScheduledId: id, reason, details })));
    return this;
  }

  timerCreated(id: number, fireAt: Date): this {
    this.events.push(new TimerCreatedEvent(options(id, this.now(), { fireAt })));
    return this;
  }

  timerFired(id: number, fireAt: Date): this {
    this.events.push(new TimerFiredEvent(options(-1, this.now(), { timerId: id, fireAt })));
    return this;
  }

  /** A snapshot of the events so far (the extension sends the whole history each episode). */
  snapshot(): Record<string, unknown>[] {
    return [...this.events];
  }
}

/** Run the orchestrator over `history` through the library's engine. */
export async function replay(fn: OrchestrationHandler, history: Record<string, unknown>[], input: unknown, instanceId = 'test-instance'): Promise<ReplayResult> {
  const handler = createOrchestrator(fn as never);
  const context = new DummyOrchestrationContext('collectEvidence', 'invocation', () => undefined);
  try {
    return (await handler(new DurableOrchestrationInput(instanceId, history, input), context)) as ReplayResult;
  } catch (error) {
    // OrchestrationFailureError: "<message>\n\n$OutOfProcData$:<state JSON>"
    const message = error instanceof Error ? error.message : String(error);
    const label = '\n\n$OutOfProcData$:';
    const marker = message.indexOf(label);
    if (marker >= 0) {
      // The state's own error is the failure (the prefix is the worker's "orchestratorReturned" flag).
      const state = JSON.parse(message.slice(marker + label.length)) as ReplayResult;
      return { ...state, error: state.error ?? message.slice(0, marker) };
    }
    throw error;
  }
}

/** Every action across episodes, flattened in order. */
export function flatActions(result: ReplayResult): ReplayResult['actions'][number] {
  return result.actions.flat();
}
