import { mkdtemp, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBlobUrl, parseBlobUrl } from '../evidence/blobUrl.js';
import { MANIFEST_PATH } from '../evidence/types.js';
import { InputError, redactUrl } from '../util/errors.js';

/**
 * Checking --out before the cluster is touched: a run never writes into another run, and an
 * output that cannot take the evidence fails in one line at once, not after minutes of
 * collection (or never, on a special file system).
 */

/** How long the write probe may take before --out is called unusable (a hung network or FUSE mount). Default 10 s. */
export const OUT_PROBE_TIMEOUT_MS = 10_000;

const FIX = 'give a directory that holds runs (each run is written to <out>/<runId>/), e.g. --out ./evidence';

async function statOrUndefined(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return undefined; // a file on the way: reported below as "not a directory"
    throw new InputError('--out', `${path} cannot be inspected (${code ?? 'error'}): ${FIX}`, { cause: error });
  }
}

/** A directory that is (or lies inside) an evidence run: it holds manifest.json or custody/. */
async function runRootOf(dir: string): Promise<string | undefined> {
  for (let p = dir; ; p = dirname(p)) {
    const info = await statOrUndefined(p);
    if (info?.isDirectory()) {
      if ((await statOrUndefined(join(p, MANIFEST_PATH)))?.isFile() || (await statOrUndefined(join(p, 'custody')))?.isDirectory()) return p;
    }
    if (dirname(p) === p) return undefined;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InputError('--out', `${what} did not answer within ${ms / 1000} s (a hung or special file system?): ${FIX}`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Refuse an --out the run cannot or must not write to, before anything is collected:
 * - a Blob URL naming more than a container (a run, or a path inside one);
 * - a directory that is, or lies inside, an existing run (it holds manifest.json or custody/);
 * - a path that is not a directory (a file, /dev/full) or under one;
 * - a directory where nothing can be created (read-only, /proc, /sys): probed by creating and
 *   removing an empty directory in it, or in its nearest existing parent when it does not exist
 *   yet (nothing is left behind), within `timeoutMs`.
 * Throws an InputError naming --out (exit 2).
 */
export async function checkOutLocation(out: string, cwd: string, timeoutMs = OUT_PROBE_TIMEOUT_MS): Promise<void> {
  if (isBlobUrl(out)) {
    let rest: string[];
    try {
      rest = parseBlobUrl(out).rest;
    } catch (error) {
      throw new InputError('--out', `${redactUrl(out)}: ${(error as Error).message}`);
    }
    if (rest.length > 0) {
      throw new InputError(
        '--out',
        `${redactUrl(out)} names a path inside a container (an existing run?); give the container URL: runs are written to <container>/<caseId>/<runId>/`,
      );
    }
    return;
  }
  const dir = resolve(cwd, out.startsWith('file:') ? fileURLToPath(out) : out);
  const run = await withTimeout(runRootOf(dir), timeoutMs, dir);
  if (run !== undefined) {
    throw new InputError(
      '--out',
      `${dir} ${run === dir ? 'is' : 'is inside'} the evidence run ${run} (it holds ${MANIFEST_PATH} or custody/): a run never writes into another run; ${FIX.replace('e.g. --out ./evidence', `e.g. --out ${dirname(run)}`)}`,
    );
  }
  // The nearest existing directory on the way: the one the run's directory is created in.
  let existing = dir;
  for (;;) {
    const info = await withTimeout(statOrUndefined(existing), timeoutMs, existing);
    if (info) {
      if (!info.isDirectory()) throw new InputError('--out', `${existing} is not a directory${existing === dir ? '' : ` (--out ${dir} would be inside it)`}: ${FIX}`);
      break;
    }
    const parent = dirname(existing);
    if (parent === existing) throw new InputError('--out', `no part of ${dir} exists: ${FIX}`);
    existing = parent;
  }
  try {
    await withTimeout(
      (async () => {
        const probe = await mkdtemp(join(existing, '.aks-evidence-probe-'));
        await rmdir(probe);
      })(),
      timeoutMs,
      existing,
    );
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError('--out', `nothing can be created in ${existing} (${code}): ${FIX}`, { cause: error });
  }
}
