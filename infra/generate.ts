/**
 * `npm run generate:infra`: writes the committed infrastructure files from the source registry.
 * test/infra checks that the committed files equal what this generates.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOURCES, type SourceRegistry } from '../shared/sources/registry.js';
import { buildTimelineKqlFile } from './kql.js';
import { workstationRoleDefinition } from './roles.js';
import { sentinelContentFiles } from './sentinel/files.js';
import { buildExampleParameters, buildTemplate } from './template.js';

export { buildTemplate } from './template.js';

/** The generated files, relative to the repository root, with their content. */
export function generatedFiles(registry: SourceRegistry = SOURCES): Record<string, string> {
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
  return {
    'infra/azuredeploy.json': json(buildTemplate(registry)),
    'infra/azuredeploy.parameters.example.json': json(buildExampleParameters()),
    'infra/kql/AksEvidenceTimeline.kql': buildTimelineKqlFile(registry.tables.tables),
    'infra/custom-role.cli.json': json(workstationRoleDefinition(registry)),
    ...sentinelContentFiles(registry.tables.tables),
  };
}

/** Write every generated file under `root`. */
export async function writeGeneratedFiles(root: string): Promise<string[]> {
  const written: string[] = [];
  for (const [path, content] of Object.entries(generatedFiles())) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
    written.push(path);
  }
  return written;
}

/** The repository root: the nearest folder above this file with package.json (dist/infra → root), else the working directory. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = repositoryRoot();
  writeGeneratedFiles(root).then(
    (paths) => {
      for (const path of paths) console.log(`wrote ${path}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
