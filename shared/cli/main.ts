import { Command, CommanderError } from 'commander';
import { registerAnalyzeCommand } from './analyze.js';
import { registerAuditCommand } from './audit.js';
import { registerCollectCommand } from './collect.js';
import { registerDemoCommand } from './demo.js';
import { registerReportCommand } from './report.js';
import { registerTimelineCommand } from './timeline.js';
import { registerVerifyCommands } from './verify.js';
import { registerIngestCommand, type IngestCliDeps } from './ingest.js';
import { registerSealCommand } from './seal.js';
import { AksEvidenceError, describeError, InputError } from '../util/errors.js';
import { EXIT, line, processIo, type CliIo } from './io.js';
import { redactSecrets } from '../util/redact.js';
import { TOOL_VERSION } from './version.js';

/** What commands may be handed instead of their defaults (tests: the Logs Ingestion emulator's credential and CA). */
export interface CliDeps {
  ingest?: IngestCliDeps;
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

  registerCollectCommand(program, io, setExit);
  registerVerifyCommands(program, io, setExit);
  registerSealCommand(program, io, setExit);
  registerDemoCommand(program, io, setExit);
  registerIngestCommand(program, io, setExit, deps.ingest);
  registerAnalyzeCommand(program, io, setExit);
  registerAuditCommand(program, io, setExit);
  registerTimelineCommand(program, io, setExit);
  registerReportCommand(program, io, setExit);

  try {
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
