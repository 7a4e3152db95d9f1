/** What a CLI command may touch of its process: streams and the environment, read once. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: { ...process.env }, cwd: process.cwd() };
}

/**
 * Exit codes, the same for every command: 0 complete; 1 failed (nothing sealed, nothing
 * delivered, verification failed, unexpected error); 2 bad input, usage or an unreachable
 * cluster; 3 finished with gaps (sealed or delivered, but something partial or failed, or
 * records unreadable).
 */
export const EXIT = { ok: 0, failed: 1, input: 2, gaps: 3 } as const;

export function line(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(text + '\n');
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
