/** Picks the exec runtime of a simulated cluster (execRuntime.ts says what each mode is). */
import type { ExecRuntime } from './execRuntime.js';
import { createEmulatedExecRuntime } from './emulatedExec.js';
import { createRealExecRuntime } from './realExec.js';

/** 'auto' (default): real where the host allows it, else emulated. 'real' fails when it cannot. */
export type ExecMode = 'auto' | 'real' | 'emulated';

export async function createExecRuntime(mode: ExecMode = 'auto'): Promise<ExecRuntime> {
  if (mode === 'emulated') return createEmulatedExecRuntime('emulation requested');
  const real = await createRealExecRuntime();
  if ('unavailable' in real) {
    if (mode === 'real') throw new Error(`simulator: real exec was requested but is not available here: ${real.unavailable}`);
    return createEmulatedExecRuntime(`real exec unavailable: ${real.unavailable}`);
  }
  return real;
}
