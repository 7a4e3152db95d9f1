import { PassThrough } from 'node:stream';
import type { CliIo } from '../../shared/cli/io.js';

/** CLI streams captured as text. */
export function captureIo(cwd: string, env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd, ...env }, cwd, out: () => o, err: () => e };
}
