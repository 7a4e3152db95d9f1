/** What a CLI command may touch of its process: streams and the environment, read once. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Ctrl-C / SIGTERM delivery to a long command (collect); absent = the command cannot be interrupted (tests). */
  interrupts?: Interrupts;
}

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

/** How a command hears Ctrl-C (SIGINT) and SIGTERM, and ends the process at once on a second one. */
export interface Interrupts {
  /** Call `handler` on each signal until the returned function is called. */
  on(handler: (signal: InterruptSignal) => void): () => void;
  /** End the process now with this code (a second Ctrl-C). */
  exitNow(code: number): never;
}

/** The process's own signals. */
export function processInterrupts(): Interrupts {
  return {
    on(handler) {
      const onInt = () => handler('SIGINT');
      const onTerm = () => handler('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      return () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      };
    },
    exitNow(code) {
      process.exit(code);
    },
  };
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: { ...process.env }, cwd: process.cwd(), interrupts: processInterrupts() };
}

/**
 * Exit codes, the same for every command: 0 complete (verify: verified); 1 failed (nothing
 * sealed, nothing delivered, verification failed, unexpected error); 2 bad input, usage or an
 * unreachable cluster; 3 finished with gaps (sealed or delivered, but something partial or
 * failed, records unreadable, or a collection interrupted and sealed as such).
 */
export const EXIT = { ok: 0, failed: 1, input: 2, gaps: 3 } as const;

export function line(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(text + '\n');
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
