/**
 * The dependency picture, checked: imports point down the layers of docs/architecture.md,
 * never up and never across within a layer; a source folder imports no other source; the
 * product imports nothing from test/; shared/ never loads the Functions runtime.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Lowest first. A folder may import only folders of a lower layer (and itself). */
const LAYERS: readonly (readonly string[])[] = [
  ['shared/util'],
  ['shared/evidence', 'shared/tables'],
  ['shared/cluster', 'shared/ingestion'],
  ['shared/audit', 'shared/findings'],
  ['shared/sources'],
  ['shared/pipeline', 'shared/simulator'],
  ['shared/timeline', 'shared/preservation'],
  ['shared/config', 'shared/report'],
  ['shared/request'],
  ['shared/orchestration', 'shared/cli'],
  ['functions', 'infra', 'bench'],
];
const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

interface Import {
  from: string;
  to: string;
  specifier: string;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path.split(sep).join('/'));
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = (m[1] ?? m[2])!;
    const to = specifier.startsWith('.')
      ? normalize(join(dirname(file), specifier))
          .split(sep)
          .join('/')
      : specifier;
    out.push({ from: file, to, specifier });
  }
  return out;
}

/** shared/<folder> or the top-level folder of a repository path. */
function folderOf(path: string): string {
  const parts = path.split('/');
  return parts[0] === 'shared' ? `shared/${parts[1]}` : parts[0]!;
}

const PRODUCT = ['shared', 'functions', 'infra', 'bench'].flatMap(tsFiles);
const IMPORTS = PRODUCT.flatMap(importsOf);

describe('layers', () => {
  test('every product folder has a layer', () => {
    const folders = new Set(PRODUCT.map(folderOf));
    expect([...folders].filter((f) => !rank.has(f))).toEqual([]);
  });

  test('imports point down: never up, never across a layer', () => {
    const wrong = IMPORTS.filter((i) => i.specifier.startsWith('.'))
      .map((i) => ({ ...i, fromFolder: folderOf(i.from), toFolder: folderOf(i.to) }))
      .filter((i) => i.fromFolder !== i.toFolder && !(rank.get(i.fromFolder)! > rank.get(i.toFolder)!))
      .map((i) => `${i.from} -> ${i.to} (${i.fromFolder} may not import ${i.toFolder})`);
    expect(wrong).toEqual([]);
  });

  test('a source folder imports no other source: shared code lives in sources/common', () => {
    const sourceFolder = (path: string): string | undefined => /^shared\/sources\/([^/]+)\//.exec(path)?.[1];
    const wrong = IMPORTS.filter((i) => {
      const from = sourceFolder(i.from);
      const to = sourceFolder(i.to);
      return from !== undefined && to !== undefined && from !== to && to !== 'common';
    }).map((i) => `${i.from} -> ${i.to}`);
    expect(wrong).toEqual([]);
  });

  test('the product imports nothing from test/', () => {
    expect(IMPORTS.filter((i) => i.to.startsWith('test/')).map((i) => `${i.from} -> ${i.to}`)).toEqual([]);
  });

  test('shared/ never loads the Functions runtime', () => {
    const runtime = IMPORTS.filter((i) => i.from.startsWith('shared/') && /^(@azure\/functions|durable-functions)(\/|$)/.test(i.to));
    expect(runtime.map((i) => `${i.from} -> ${i.to}`)).toEqual([]);
  });

  test('the build compiles no test code into dist/', () => {
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    expect(build.include.filter((p) => p.startsWith('test'))).toEqual([]);
  });

  test('no import cycle between files, type-only imports included', () => {
    const edges = new Map<string, string[]>();
    for (const i of IMPORTS) {
      if (!i.specifier.startsWith('.')) continue;
      const to = i.to.replace(/\.js$/, '.ts');
      if (to === i.from) continue;
      edges.set(i.from, [...(edges.get(i.from) ?? []), to]);
    }
    // Depth-first search; a file met again while still on the path closes a cycle.
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      state.set(file, 'open');
      for (const next of edges.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), file, next].join(' -> '));
        else if (!state.has(next)) visit(next, [...path, file]);
      }
      state.set(file, 'done');
    };
    for (const file of PRODUCT) if (!state.has(file)) visit(file, []);
    expect(cycles).toEqual([]);
  });

  test('the checker reads real imports (it would see an upward one)', () => {
    const sample = IMPORTS.filter((i) => i.from === 'shared/pipeline/collectTask.ts').map((i) => relative(ROOT, join(ROOT, i.to)));
    expect(sample).toEqual(expect.arrayContaining(['shared/sources/registry.js', 'shared/evidence/ndjson.js']));
  });
});
