/**
 * The simulator does not know what the collector will send: nothing under shared/simulator
 * imports the pipeline, the sources, the orchestration or the CLI.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIMULATOR = join(ROOT, 'shared', 'simulator');
const FORBIDDEN = ['shared/pipeline', 'shared/sources', 'shared/orchestration', 'shared/cli'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('shared/simulator imports nothing from the pipeline, sources, orchestration or CLI', () => {
  const offending: string[] = [];
  for (const file of files(SIMULATOR)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\(\s*)['"](\.[^'"]+)['"]/g)) {
      const target = relative(ROOT, normalize(join(dirname(file), m[1]!)))
        .split('\\')
        .join('/');
      if (FORBIDDEN.some((f) => target === f || target.startsWith(`${f}/`))) offending.push(`${relative(ROOT, file)} → ${target}`);
    }
  }
  expect(files(SIMULATOR).length).toBeGreaterThan(10);
  expect(offending).toEqual([]);
});
