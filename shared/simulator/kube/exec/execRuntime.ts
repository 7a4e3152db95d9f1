/**
 * The simulated kubelet's container runtime for exec: one interface, two modes (createRuntime.ts picks one).
 * - 'real': the argv runs under real shells chrooted into the container's tree inside fresh
 *   namespaces (realExec.ts). Chosen whenever the host allows it (root, or unprivileged user
 *   namespaces).
 * - 'emulated': an in-memory bash (just-bash) over the same tree (emulatedExec.ts), for hosts
 *   where namespaces are not available (a non-root `npm run demo` on a locked-down kernel).
 * The simulator knows nothing of what the collector will send: both modes run whatever argv
 * arrives.
 */
import type { ContainerRuntime } from '../scenario.js';
import type { PodFacts } from './containerImage.js';

export interface ExecTarget {
  /** "<namespace>/<pod>/<container>" — one file tree per key, kept for the cluster's life. */
  key: string;
  runtime: ContainerRuntime;
  pod: PodFacts;
}

export interface ExecIo {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

/** How an exec ended: the process's exit code, or the runtime's refusal to start it. */
export type ExecOutcome = { exitCode: number; startError?: undefined } | { startError: string; exitCode?: undefined };

export interface RunningExec {
  done: Promise<ExecOutcome>;
  writeStdin(chunk: Buffer): void;
  closeStdin(): void;
  /** SIGKILL (the client went away, the fault cut it, or the cluster stops). */
  kill(): void;
}

export interface ExecRuntime {
  readonly mode: 'real' | 'emulated';
  /** One line saying what runs the commands (for the demo and the bench). */
  readonly detail: string;
  start(target: ExecTarget, argv: string[], io: ExecIo, options: { stdin: boolean }): RunningExec;
  dispose(): Promise<void>;
}
