/**
 * An in-process Durable Functions host for tests: the part of the Durable extension the app
 * talks to, on loopback.
 *
 *  - HTTP: the extension's client API (rpcBaseUrl: POST orchestrators/{name}/{id},
 *    GET instances/{id}) so the real DurableClient from df.getClient(context) starts runs and
 *    reads status over HTTP, exactly as in a Functions host.
 *  - Execution: each episode replays the orchestrator through durable-functions' own engine
 *    (createOrchestrator, what df.app.orchestration registers) over the instance's history;
 *    new actions are scheduled, activities run in process with JSON-serialized inputs and
 *    outputs, and their completions are appended to the history one per episode, with the
 *    extension's retry protocol for CallActivityWithRetry (TaskFailed, TimerCreated,
 *    TimerFired, TaskScheduled) and the same sequence numbering as the worker.
 *
 *  - Durable timers (CreateTimer: TimerCreated, then TimerFired), external events (the client's
 *    raiseEvent → EventRaised), and continue-as-new (a fresh history with the new input; events
 *    raised after it go to the new generation).
 *
 * What it does not do: durable storage, queues, the 45 KB large-message offload, real timers
 * (retry and durable timers fire at once), multiple workers. Those are what only a real host shows.
 */
// @azure/functions is a webpack bundle: ESM sees only some named exports (app, input, trigger), so take classes from the default export.
import functions from '@azure/functions';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationHandler } from 'durable-functions';
import { ExecutionStartedEvent } from 'durable-functions/lib/src/history/ExecutionStartedEvent.js';
import { HistoryEventOptions } from 'durable-functions/lib/src/history/HistoryEventOptions.js';
import { OrchestratorCompletedEvent } from 'durable-functions/lib/src/history/OrchestratorCompletedEvent.js';
import { OrchestratorStartedEvent } from 'durable-functions/lib/src/history/OrchestratorStartedEvent.js';
import { EventRaisedEvent } from 'durable-functions/lib/src/history/EventRaisedEvent.js';
import { TaskCompletedEvent } from 'durable-functions/lib/src/history/TaskCompletedEvent.js';
import { TaskFailedEvent } from 'durable-functions/lib/src/history/TaskFailedEvent.js';
import { TaskScheduledEvent } from 'durable-functions/lib/src/history/TaskScheduledEvent.js';
import { TimerCreatedEvent } from 'durable-functions/lib/src/history/TimerCreatedEvent.js';
import { TimerFiredEvent } from 'durable-functions/lib/src/history/TimerFiredEvent.js';
import { createOrchestrator, DummyOrchestrationContext, DurableOrchestrationInput } from 'durable-functions/lib/src/util/testingUtils.js';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ActivityFn = (input: unknown, context: InvocationContext) => Promise<unknown>;

/** Invocation hooks as the Functions worker runs them (the library's test mode skips registration, so the host runs them). */
export interface InvocationHooks {
  pre?: (context: InstanceType<typeof functions.PreInvocationContext>) => void | Promise<void>;
  post?: (context: InstanceType<typeof functions.PostInvocationContext>) => void | Promise<void>;
}

/**
 * Call a function the way the worker does: preInvocation hook (may change inputs or the
 * handler), the handler, postInvocation hook (sees the result or the error, may change them);
 * the error still set after the hook is thrown.
 */
export async function invokeWithHooks<T>(handler: (...args: never[]) => Promise<T>, inputs: unknown[], context: InvocationContext, hooks: InvocationHooks = {}): Promise<T> {
  const hookData: Record<string, unknown> = {};
  const pre = new functions.PreInvocationContext({ invocationContext: context, inputs, functionCallback: handler as never, hookData });
  await hooks.pre?.(pre);
  let result: unknown;
  let error: unknown;
  try {
    result = await (pre.functionHandler as (...args: unknown[]) => Promise<unknown>)(...pre.inputs, context);
  } catch (e) {
    error = e;
  }
  const post = new functions.PostInvocationContext({ invocationContext: context, inputs: pre.inputs, result, error, hookData });
  await hooks.post?.(post);
  if (post.error !== undefined && post.error !== null) throw post.error;
  return post.result as T;
}

export interface HostInstance {
  instanceId: string;
  name: string;
  /** Input as stored by the host (JSON text). */
  inputJson: string;
  runtimeStatus: 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';
  createdTime: string;
  lastUpdatedTime: string;
  customStatus?: unknown;
  output?: unknown;
  history: Record<string, unknown>[];
  /** Every action the worker returned, as sent (JSON text per episode). */
  actionsJson: string[];
  /** Activity executions: name, sequence id, attempt, duration in ms, outcome. */
  activityRuns: { name: string; id: number; attempt: number; ms: number; ok: boolean }[];
  /** Generations started by continue-as-new (0: never continued). */
  generations: number;
  /** Durable timers created (with their fire times), across generations. */
  timers: string[];
  /** External events raised on the instance: name and payload (JSON). */
  events: { name: string; input: string }[];
  done: Promise<void>;
}

export interface DurableHost {
  /** The extension's client API base (what rpcBaseUrl points at). */
  baseUrl: string;
  /** The system key in management URLs (a secret in a real host). */
  systemKey: string;
  instances: Map<string, HostInstance>;
  /** An InvocationContext with a durableClient input bound to this host, for calling HTTP handlers. */
  clientContext(functionName: string): InvocationContext;
  /** Wait until an instance is Completed/Failed. */
  waitFor(instanceId: string): Promise<HostInstance>;
  /** Every start request received, in order. */
  starts: { name: string; instanceId: string }[];
  stop(): Promise<void>;
}

export interface DurableHostOptions {
  orchestrators: Record<string, OrchestrationHandler>;
  activities: Record<string, ActivityFn>;
  taskHubName?: string;
  /** Don't execute started instances (HTTP handler tests that only look at starts and status). */
  execute?: boolean;
  /** Invocation hooks run around every activity, as the worker runs them. */
  hooks?: InvocationHooks;
  /** Answer a request of the extension's API differently (faults): return undefined to answer normally. */
  respond?: (request: { method: string; path: string }) => { status: number; body: unknown } | undefined;
}

const opts = (eventId: number, extra: Record<string, unknown> = {}): HistoryEventOptions => {
  const o = new HistoryEventOptions(eventId, new Date(), false);
  Object.assign(o, extra);
  return o;
};

interface RetryOptionsLike {
  maxNumberOfAttempts: number;
}

interface Action {
  actionType: number;
  functionName: string;
  input?: unknown;
  retryOptions?: RetryOptionsLike;
}

type Completion =
  | { kind: 'event'; name: string; input: string }
  | { kind: 'timer'; id: number; fireAt: Date }
  | { kind: 'completed'; id: number; result: unknown }
  | { kind: 'failed'; id: number; action: Action; error: Error; attempt: number };

export async function startDurableHost(options: DurableHostOptions): Promise<DurableHost> {
  const taskHubName = options.taskHubName ?? 'AksEvidence';
  const systemKey = `system-key-${Math.random().toString(36).slice(2)}`;
  const instances = new Map<string, HostInstance>();
  const starts: DurableHost['starts'] = [];
  /** Per running instance: deliver a raised event to its execution loop. */
  const raised = new Map<string, (event: { name: string; input: string }) => void>();

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function statusJson(i: HostInstance, showInput: boolean): unknown {
    return {
      name: i.name,
      instanceId: i.instanceId,
      runtimeStatus: i.runtimeStatus,
      input: showInput ? JSON.parse(i.inputJson || 'null') : null,
      customStatus: i.customStatus ?? null,
      output: i.output ?? null,
      createdTime: i.createdTime,
      lastUpdatedTime: i.lastUpdatedTime,
    };
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://host');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const override = options.respond?.({ method: req.method ?? 'GET', path: url.pathname });
      if (override) return send(override.status, override.body);
      const start = /^\/runtime\/webhooks\/durabletask\/orchestrators\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
      if (req.method === 'POST' && start) {
        const name = decodeURIComponent(start[1] ?? '');
        const instanceId = start[2] ? decodeURIComponent(start[2]) : Math.random().toString(16).slice(2);
        const inputJson = await readBody(req);
        starts.push({ name, instanceId });
        const existing = instances.get(instanceId);
        if (existing && (existing.runtimeStatus === 'Running' || existing.runtimeStatus === 'Pending')) {
          return send(409, { Message: `An Orchestration instance with the status ${existing.runtimeStatus} already exists.` });
        }
        const orchestrator = options.orchestrators[name];
        if (!orchestrator) return send(400, { Message: `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.` });
        const now = new Date().toISOString();
        const instance: HostInstance = {
          instanceId,
          name,
          inputJson,
          runtimeStatus: 'Pending',
          createdTime: now,
          lastUpdatedTime: now,
          history: [],
          actionsJson: [],
          activityRuns: [],
          generations: 0,
          timers: [],
          events: [],
          done: Promise.resolve(),
        };
        instances.set(instanceId, instance);
        if (options.execute !== false) instance.done = execute(instance, orchestrator);
        return send(202, { id: instanceId, ...managementUrls(instanceId) });
      }
      const raise = /^\/runtime\/webhooks\/durabletask\/instances\/([^/]+)\/raiseEvent\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'POST' && raise) {
        const instance = instances.get(decodeURIComponent(raise[1] ?? ''));
        if (!instance) return send(404, { Message: 'instance not found' });
        // The extension answers 410 for an instance that is no longer running.
        if (instance.runtimeStatus !== 'Running' && instance.runtimeStatus !== 'Pending') return send(410, { Message: `instance is ${instance.runtimeStatus}` });
        const body = await readBody(req);
        instance.events.push({ name: decodeURIComponent(raise[2] ?? ''), input: body });
        raised.get(instance.instanceId)?.({ name: decodeURIComponent(raise[2] ?? ''), input: body });
        return send(202, {});
      }
      // The instances query (DurableClient.getStatusBy): every instance, or those of the runtimeStatus list; inputs unless showInput=false.
      if (req.method === 'GET' && /^\/runtime\/webhooks\/durabletask\/instances\/?$/.test(url.pathname)) {
        const wanted = (url.searchParams.get('runtimeStatus') ?? '').split(',').filter(Boolean);
        const showInput = url.searchParams.get('showInput') !== 'false';
        return send(
          200,
          [...instances.values()].filter((i) => wanted.length === 0 || wanted.includes(i.runtimeStatus)).map((i) => statusJson(i, showInput)),
        );
      }
      const status = /^\/runtime\/webhooks\/durabletask\/instances\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && status) {
        const instance = instances.get(decodeURIComponent(status[1] ?? ''));
        if (!instance) return send(404, { Message: 'instance not found' });
        const running = instance.runtimeStatus === 'Running' || instance.runtimeStatus === 'Pending';
        return send(running ? 202 : 200, statusJson(instance, url.searchParams.get('showInput') === 'true'));
      }
      send(404, { Message: `no route ${req.method} ${url.pathname}` });
    })().catch((error: unknown) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/runtime/webhooks/durabletask`;

  function managementUrls(instanceId: string): Record<string, string> {
    const q = `taskHub=${taskHubName}&connection=Storage&code=${systemKey}`;
    return {
      statusQueryGetUri: `${base}/instances/${instanceId}?${q}`,
      sendEventPostUri: `${base}/instances/${instanceId}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${base}/instances/${instanceId}/terminate?reason={text}&${q}`,
      rewindPostUri: `${base}/instances/${instanceId}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${base}/instances/${instanceId}?${q}`,
      restartPostUri: `${base}/instances/${instanceId}/restart?${q}`,
      suspendPostUri: `${base}/instances/${instanceId}/suspend?reason={text}&${q}`,
      resumePostUri: `${base}/instances/${instanceId}/resume?reason={text}&${q}`,
    };
  }

  function clientData(): Record<string, unknown> {
    const mgmt = managementUrls('INSTANCEID');
    return {
      taskHubName,
      creationUrls: {
        createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=${systemKey}`,
        createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=${systemKey}`,
      },
      managementUrls: { id: 'INSTANCEID', ...mgmt },
      baseUrl: base,
      requiredQueryStringParameters: `code=${systemKey}`,
      rpcBaseUrl: `${base}/`,
    };
  }

  /** Run one instance to completion: one history event per episode, replayed by the library's engine. */
  async function execute(instance: HostInstance, orchestrator: OrchestrationHandler): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const handler = createOrchestrator(orchestrator as never);
    let input: unknown = instance.inputJson ? JSON.parse(instance.inputJson) : undefined;
    const history = instance.history;
    history.push(new OrchestratorStartedEvent(opts(-1)));
    history.push(new ExecutionStartedEvent(opts(-1, { name: instance.name, input: instance.inputJson })));
    instance.runtimeStatus = 'Running';
    let nextSeq = 0;
    let scheduled = 0;
    const pending = new Map<number, Promise<void>>();
    const ready: Completion[] = [];
    const followUps: (() => void)[] = [];
    let wake: (() => void) | undefined;
    // Events raised before the instance ran are queued for it, as the extension queues them.
    for (const event of instance.events) ready.push({ kind: 'event', ...event });
    raised.set(instance.instanceId, (event) => {
      ready.push({ kind: 'event', ...event });
      wake?.();
    });

    const runActivity = (id: number, action: Action, attempt: number) => {
      const fn = options.activities[action.functionName];
      const began = performance.now();
      const record = (ok: boolean) => instance.activityRuns.push({ name: action.functionName, id, attempt, ms: Math.round(performance.now() - began), ok });
      const work = (async () => {
        if (!fn) throw new Error(`The function '${action.functionName}' doesn't exist, is disabled, or is not an activity function.`);
        const ctx = new functions.InvocationContext({
          functionName: action.functionName,
          invocationId: `${instance.instanceId}:${id}`,
          options: { trigger: { type: 'activityTrigger', name: 'input' }, extraInputs: [], extraOutputs: [] },
          logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(' '), functionName: action.functionName }),
        });
        // The host hands the activity its input as JSON and stores its output as JSON.
        const arg = action.input === undefined ? undefined : JSON.parse(JSON.stringify(action.input));
        return invokeWithHooks(fn, [arg], ctx, options.hooks);
      })();
      const p = work.then(
        (result) => {
          record(true);
          ready.push({ kind: 'completed', id, result });
        },
        (error: unknown) => {
          record(false);
          ready.push({ kind: 'failed', id, action, error: error instanceof Error ? error : new Error(String(error)), attempt });
        },
      );
      pending.set(
        id,
        p.finally(() => {
          pending.delete(id);
          wake?.();
        }),
      );
    };

    for (;;) {
      let state;
      try {
        state = await handler(
          new DurableOrchestrationInput(instance.instanceId, [...history], input),
          new DummyOrchestrationContext(instance.name, instance.instanceId, () => undefined),
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const label = '\n\n$OutOfProcData$:';
        const at = message.indexOf(label);
        // The worker reports a failed orchestration as "<…>$OutOfProcData$:<state>"; the extension
        // records state.error as the failure (the prefix is not the message).
        const failed = at >= 0 ? (JSON.parse(message.slice(at + label.length)) as { customStatus?: unknown; error?: string }) : undefined;
        instance.runtimeStatus = 'Failed';
        instance.output = failed?.error ?? message;
        if (failed) instance.customStatus = failed.customStatus;
        instance.lastUpdatedTime = new Date().toISOString();
        return;
      }
      instance.actionsJson.push(JSON.stringify(state.actions));
      instance.customStatus = state.customStatus;
      instance.lastUpdatedTime = new Date().toISOString();
      const flat = state.actions.flat() as Action[];
      const continued = flat.find((a) => a.actionType === 4);
      if (state.isDone && continued) {
        // Continue-as-new: the same instance starts over with the new input and an empty history.
        await Promise.all(pending.values());
        instance.generations++;
        instance.inputJson = JSON.stringify(continued.input ?? null);
        input = continued.input;
        history.splice(0, history.length);
        history.push(new OrchestratorStartedEvent(opts(-1)));
        history.push(new ExecutionStartedEvent(opts(-1, { name: instance.name, input: instance.inputJson })));
        nextSeq = 0;
        scheduled = 0;
        // Activity outcomes and timers belong to the old generation; raised events reach the new one.
        const carried = ready.filter((c) => c.kind === 'event');
        ready.splice(0, ready.length, ...carried);
        followUps.splice(0);
        continue;
      }
      if (state.isDone) {
        instance.output = state.output;
        instance.runtimeStatus = 'Completed';
        raised.delete(instance.instanceId);
        return;
      }
      for (const action of flat.slice(scheduled)) {
        if (action.actionType === 6) continue; // WaitForExternalEvent: matched by name, no sequence number
        const id = nextSeq++;
        if (action.actionType === 5) {
          const fireAt = new Date((action as unknown as { fireAt: Date | string }).fireAt);
          history.push(new TimerCreatedEvent(opts(id, { fireAt })));
          instance.timers.push(fireAt.toISOString());
          ready.push({ kind: 'timer', id, fireAt });
          continue;
        }
        history.push(new TaskScheduledEvent(opts(id, { name: action.functionName, input: JSON.stringify(action.input) })));
        runActivity(id, action, 1);
      }
      scheduled = flat.length;
      history.push(new OrchestratorCompletedEvent(opts(-1)));

      // Next episode: one event (a timer firing, or one activity outcome).
      const follow = followUps.shift();
      if (follow) {
        history.push(new OrchestratorStartedEvent(opts(-1)));
        follow();
        continue;
      }
      while (ready.length === 0) {
        if (pending.size === 0) {
          instance.runtimeStatus = 'Failed';
          instance.output = 'host: the orchestrator waits for something this host cannot deliver';
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      const c = ready.shift() as Completion;
      history.push(new OrchestratorStartedEvent(opts(-1)));
      if (c.kind === 'event') {
        history.push(new EventRaisedEvent(opts(-1, { name: c.name, input: c.input })));
        continue;
      }
      if (c.kind === 'timer') {
        history.push(new TimerFiredEvent(opts(-1, { timerId: c.id, fireAt: c.fireAt })));
        continue;
      }
      if (c.kind === 'completed') {
        history.push(new TaskCompletedEvent(opts(-1, { taskScheduledId: c.id, result: JSON.stringify(c.result ?? null) })));
        continue;
      }
      history.push(
        new TaskFailedEvent(opts(-1, { taskScheduledId: c.id, reason: `Activity function '${c.action.functionName}' failed: ${c.error.message}`, details: c.error.stack ?? '' })),
      );
      if (c.action.actionType === 1 && c.action.retryOptions) {
        // The worker's RetryableTask waits for a timer after every failure, then retries or gives up.
        const timerId = nextSeq++;
        history.push(new TimerCreatedEvent(opts(timerId, { fireAt: new Date() })));
        const max = c.action.retryOptions.maxNumberOfAttempts;
        followUps.push(() => {
          history.push(new TimerFiredEvent(opts(-1, { timerId, fireAt: new Date() })));
          if (c.attempt < max) {
            const retryId = nextSeq++;
            history.push(new TaskScheduledEvent(opts(retryId, { name: c.action.functionName, input: JSON.stringify(c.action.input) })));
            runActivity(retryId, c.action, c.attempt + 1);
          }
        });
      }
    }
  }

  return {
    baseUrl: base,
    systemKey,
    instances,
    starts,
    clientContext(functionName: string): InvocationContext {
      const input = df.input.durableClient();
      const context = new functions.InvocationContext({
        functionName,
        invocationId: `http-${Math.random().toString(16).slice(2)}`,
        options: { trigger: { type: 'httpTrigger', name: 'request' }, extraInputs: [input], extraOutputs: [] },
        logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(' '), functionName }),
      });
      context.extraInputs.set(input, clientData());
      return context;
    },
    async waitFor(instanceId: string): Promise<HostInstance> {
      const instance = instances.get(instanceId);
      if (!instance) throw new Error(`no instance ${instanceId}`);
      await instance.done;
      return instance;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Everything the HTTP handlers logged through their InvocationContext (to check no secret is logged). */
export const logs: { level: string; message: string; functionName?: string }[] = [];
