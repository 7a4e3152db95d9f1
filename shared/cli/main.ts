import { Command, CommanderError } from 'commander';
import type { IngestCliDeps } from './ingest.js';
import { AksEvidenceError, describeError, InputError } from '../util/errors.js';
import { EXIT, line, processIo, type CliIo } from './io.js';
import { redactSecrets } from '../util/redact.js';
import { TOOL_VERSION } from './version.js';

/** What commands may be handed instead of their defaults (tests: the Logs Ingestion emulator's credential and CA). */
export interface CliDeps {
  ingest?: IngestCliDeps;
}

type Register = (program: Command, io: CliIo, setExit: (code: number) => void, deps: CliDeps) => void;

/** verify and export register together: one registration for both names (registrationsFor de-duplicates it). */
let verifyRegistration: Promise<Register> | undefined;
function verifyCommands(): Promise<Register> {
  verifyRegistration ??= import('./verify.js').then(
    ({ registerVerifyCommands }) =>
      (program, io, setExit) =>
        registerVerifyCommands(program, io, setExit),
  );
  return verifyRegistration;
}

/**
 * Each command's module, loaded only when that command runs: a collection never loads the audit
 * rules, the timeline or the ingestion client, and `collect` reaches the API server sooner
 * (docs/performance.md). Help, version and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  collect: async () => (await import('./collect.js')).registerCollectCommand,
  verify: verifyCommands,
  export: verifyCommands,
  seal: async () => (await import('./seal.js')).registerSealCommand,
  watch: async () => (await import('./preserve.js')).registerWatchCommand,
  demo: async () => (await import('./demo.js')).registerDemoCommand,
  ingest: async () => {
    const { registerIngestCommand } = await import('./ingest.js');
    return (program, io, setExit, deps) => registerIngestCommand(program, io, setExit, deps.ingest);
  },
  analyze: async () => (await import('./analyze.js')).registerAnalyzeCommand,
  audit: async () => (await import('./audit.js')).registerAuditCommand,
  timeline: async () => (await import('./timeline.js')).registerTimelineCommand,
  report: async () => (await import('./report.js')).registerReportCommand,
};

/** The registrations argv needs: its command's, or every command's (help, version, typos). */
async function registrationsFor(argv: readonly string[]): Promise<Register[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  const one = name !== undefined ? COMMANDS[name] : undefined;
  if (one) return [await one()];
  const all: Register[] = [];
  // One after another: jest's VM modules mis-link graphs imported concurrently.
  for (const load of Object.values(COMMANDS)) all.push(await load());
  return [...new Set(all)];
}

/** Run the CLI; returns the exit code (io.ts EXIT). Errors become one clear line on stderr. */
export async function runCli(argv: string[], io: CliIo = processIo(), deps: CliDeps = {}): Promise<number> {
  let exitCode: number = EXIT.ok;
  const setExit = (code: number) => {
    exitCode = code;
  };
  const program = new Command()
    .name('aks-evidence')
    .description('Forensic evidence collection for Kubernetes / AKS: complete, write-once, hashed, with a chain of custody.')
    .version(TOOL_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (str) => io.stdout.write(str),
      writeErr: (str) => io.stderr.write(str),
    })
    .showHelpAfterError('(run aks-evidence <command> --help for usage)');

  try {
    for (const register of await registrationsFor(argv)) register(program, io, setExit, deps);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; commander already printed its message.
      return error.exitCode === 0 ? EXIT.ok : EXIT.input;
    }
    // Messages are written without secrets; the redaction is the last line of defence for what an SDK quoted.
    if (error instanceof InputError) {
      line(io.stderr, `aks-evidence: ${redactSecrets(error.message)}`);
      return EXIT.input;
    }
    if (error instanceof AksEvidenceError) {
      line(io.stderr, `aks-evidence: ${redactSecrets(error.message)}`);
      return error.code === 'ERR_UNREACHABLE' || error.code.startsWith('ERR_INPUT') || error.code === 'ERR_KUBECONFIG' ? EXIT.input : EXIT.failed;
    }
    line(io.stderr, `aks-evidence: unexpected error: ${describeError(error)}`);
    return EXIT.failed;
  }
}
