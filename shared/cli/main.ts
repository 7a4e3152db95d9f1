import { Command, CommanderError } from 'commander';
import { AksEvidenceError, describeError, InputError } from '../util/errors.js';
import { EXIT, line, processIo, type CliIo } from './io.js';
import { TOOL_VERSION } from './version.js';

type Register = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

/**
 * Each command's module, loaded only when that command runs: a collection never loads the audit
 * rules, the timeline or the ingestion client, and `collect` reaches the API server sooner
 * (docs/performance.md). Help, version and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  collect: async () => (await import('./collect.js')).registerCollectCommand,
  verify: async () => (await import('./verify.js')).registerVerifyCommands,
  export: async () => (await import('./verify.js')).registerVerifyCommands,
  demo: async () => (await import('./demo.js')).registerDemoCommand,
  ingest: async () => (await import('./ingest.js')).registerIngestCommand,
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

/** Run the CLI; returns the exit code. Errors become one clear line on stderr. */
export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
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
    for (const register of await registrationsFor(argv)) register(program, io, setExit);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; commander already printed its message.
      return error.exitCode === 0 ? EXIT.ok : EXIT.input;
    }
    if (error instanceof InputError) {
      line(io.stderr, `aks-evidence: ${error.message}`);
      return EXIT.input;
    }
    if (error instanceof AksEvidenceError) {
      line(io.stderr, `aks-evidence: ${error.message}`);
      return error.code === 'ERR_UNREACHABLE' || error.code.startsWith('ERR_INPUT') || error.code === 'ERR_KUBECONFIG' ? EXIT.input : EXIT.failed;
    }
    line(io.stderr, `aks-evidence: unexpected error: ${describeError(error)}`);
    return EXIT.failed;
  }
}
