#!/usr/bin/env node
// Launcher: @kubernetes/client-node 2.x needs Node.js >= 22.19. When started by an older
// system Node, re-run under the Node 22 that `npm install` put in node_modules (package "node").
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  const local = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node.cmd' : 'node');
  if (!existsSync(local)) {
    console.error(`aks-evidence needs Node.js >= 22.19 (this is ${process.versions.node}); run "npm install" in ${root} to fetch it.`);
    process.exit(2);
  }
  const r = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const entry = join(root, 'dist', 'shared', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error(`aks-evidence is not built: run "npm install" (or "npm run build") in ${root}.`);
  process.exit(2);
}
// Streaming collection: V8 runs full GCs sooner (shared/util/heapTuning.ts; AKS_EVIDENCE_HEAP_TUNING=off to skip).
const { tuneHeapForStreaming } = await import(pathToFileURL(join(root, 'dist', 'shared', 'util', 'heapTuning.js')).href);
tuneHeapForStreaming();
const { runCli } = await import(pathToFileURL(entry).href);
process.exitCode = await runCli(process.argv.slice(2));
