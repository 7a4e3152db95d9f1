#!/usr/bin/env node
// Launcher. aks-evidence needs Node.js >= 22.19; `npm install` puts a Node 22 into node_modules
// (package "node"), and npm scripts and npx already run this file with it. When an older
// system Node starts it, it runs itself again under that Node 22 and stands in for it: SIGINT,
// SIGTERM and SIGHUP go to the child exactly once (the child has its own process group, so a
// Ctrl-C reaches it only through here), and the launcher ends as the child ended (its exit
// code, or the same signal). Nothing else is loaded before the child starts.
import { spawn } from 'node:child_process';
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
  const posix = process.platform !== 'win32';
  const child = spawn(local, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', detached: posix });
  const forwarded = posix ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGTERM'];
  for (const signal of forwarded) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('error', (error) => {
    console.error(`aks-evidence: could not start ${local}: ${error.message}`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // End the way the child ended, so a shell or supervisor sees the same status.
      for (const s of forwarded) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
} else {
  const entry = join(root, 'dist', 'shared', 'cli', 'main.js');
  if (!existsSync(entry)) {
    console.error(`aks-evidence is not built: run "npm install" (or "npm run build") in ${root}.`);
    process.exit(2);
  }
  /** @type {{ runCli: (argv: string[]) => Promise<number> }} shared/cli/main.ts, built */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- loaded by path, after the Node version check, so its type is only this JSDoc
  const { runCli } = await import(pathToFileURL(entry).href);
  process.exitCode = await runCli(process.argv.slice(2));
}
