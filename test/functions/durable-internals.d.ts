/**
 * Typings for the parts of durable-functions 3.5.0 (pinned) the tests drive directly: the
 * package ships these as JavaScript only. They are the library's own replay engine and
 * history event classes, not test doubles.
 */
declare module 'durable-functions/lib/src/util/testingUtils.js' {
  import { InvocationContext } from '@azure/functions';
  export class DurableOrchestrationInput {
    constructor(instanceId?: string, history?: unknown[], input?: unknown);
  }
  export class DummyOrchestrationContext extends InvocationContext {
    constructor(functionName?: string, invocationId?: string, logHandler?: (level: string, ...args: unknown[]) => void);
  }
  export function createOrchestrator(fn: (context: never) => Generator<unknown, unknown, unknown>): (
    trigger: DurableOrchestrationInput,
    context: InvocationContext,
  ) => Promise<{
    isDone: boolean;
    actions: unknown[][];
    output?: unknown;
    error?: string;
    customStatus?: unknown;
    schemaVersion: number;
  }>;
}

declare module 'durable-functions/lib/src/history/HistoryEventOptions.js' {
  export class HistoryEventOptions {
    constructor(eventId: number, timestamp: Date, isPlayed?: boolean);
    [key: string]: unknown;
  }
}

declare module 'durable-functions/lib/src/history/*.js' {
  import type { HistoryEventOptions } from 'durable-functions/lib/src/history/HistoryEventOptions.js';
  const EventClass: new (options: HistoryEventOptions) => Record<string, unknown>;
  export { EventClass as OrchestratorStartedEvent, EventClass as OrchestratorCompletedEvent, EventClass as ExecutionStartedEvent };
  export { EventClass as TaskScheduledEvent, EventClass as TaskCompletedEvent, EventClass as TaskFailedEvent };
  export { EventClass as TimerCreatedEvent, EventClass as TimerFiredEvent, EventClass as EventRaisedEvent };
}
