/**
 * The `erase` command line: `erase <command> [flags]`, commands realera | uce | esd | ap (methods-table.ts),
 * generate | evaluate | export. `main(argv, io)` runs one invocation and returns the exit code:
 *   0 success, 1 failure while running, 2 bad input (unknown flag, missing or malformed value/file), 130 aborted.
 * Errors print their message on stderr; nothing is left half-written (outputs are staged and renamed).
 * Run as a program (the `erase` bin), Ctrl-C aborts the running command through its AbortSignal; a second Ctrl-C
 * removes the staging folders of outputs being written (the outputs stay as they were) and exits at once (130).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AbortedError, EraseError, FileFormatError, InvalidOptionError, UnsupportedError, WeightKeysError } from '@erase/core';
import { ERASE_VERSION } from '../io/version';
import { removeStagingFolders } from '../io/staging';
import { runEvaluate } from './commands/evaluate';
import { runExport } from './commands/export';
import { runGenerate } from './commands/generate';
import { runMethodCommand } from './commands/method';
import type { CommandContext } from './context';
import { METHOD_COMMANDS, methodCommand } from './methods-table';
import type { OutputStream } from './progress';

/** The I/O of one run. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Aborts the running command (Ctrl-C). */
  readonly signal?: AbortSignal;
}

const OTHER_COMMANDS: Readonly<Record<string, { summary: string; run: (argv: readonly string[], context: CommandContext) => Promise<number> }>> = {
  generate: { summary: 'generate PNGs, optionally with a saved erasure applied', run: runGenerate },
  evaluate: { summary: 'Acc_e / Acc_s / Acc_g / H_o on the embedded shapes world (oracle-scored)', run: runEvaluate },
  export: { summary: 'write the (erased) model as a diffusers folder', run: runExport },
};

function topUsage(): string {
  const rows = [
    ...METHOD_COMMANDS.map((m) => [m.command, m.summary + (m.run ? '' : ' (not in this build yet)')]),
    ...Object.entries(OTHER_COMMANDS).map(([name, c]) => [name, c.summary]),
  ];
  return [
    'Usage: erase <command> [flags]   (erase <command> --help for its flags)',
    '',
    'Concept erasure for text-to-image diffusion models. Default model: the embedded shapes world.',
    '',
    'Commands:',
    ...rows.map(([name, summary]) => `  ${(name as string).padEnd(10)}${summary}`),
    '',
    'Examples:',
    '  erase uce --concepts heart --out erasures/uce-heart',
    '  erase generate --erasure erasures/uce-heart --prompt "a photo of the heart" --seeds 4 --out images',
    '  erase evaluate --erasure erasures/uce-heart --seeds-per-prompt 8',
    '',
  ].join('\n');
}

/**
 * The exit code of an error: 130 aborted; 2 bad input (a flag or option, a malformed file, an input this library does
 * not read such as a pickle checkpoint, weights that do not fit the model's config); 1 anything else.
 */
function exitCode(error: unknown): number {
  if (AbortedError.isInstance(error)) return 130;
  if (InvalidOptionError.isInstance(error) || FileFormatError.isInstance(error) || UnsupportedError.isInstance(error) || WeightKeysError.isInstance(error)) return 2;
  return 1;
}

/**
 * Runs one `erase` invocation (`argv` without the node and script paths). Never throws: errors are reported on
 * `io.stderr` and turned into the exit code.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const context: CommandContext = { stdout: io.stdout, stderr: io.stderr, ...(io.signal ? { signal: io.signal } : {}) };
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.stderr : io.stdout).write(topUsage());
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-v') {
      io.stdout.write(`${ERASE_VERSION}\n`);
      return 0;
    }
    const method = methodCommand(command);
    if (method) return await runMethodCommand(method, rest, context);
    const other = OTHER_COMMANDS[command];
    if (other) return await other.run(rest, context);
    io.stderr.write(`erase: unknown command "${command}".\n\n${topUsage()}`);
    return 2;
  } catch (error) {
    const message = EraseError.isInstance(error) || error instanceof Error ? error.message : String(error);
    io.stderr.write(`\nerase ${command}: ${message}\n`);
    if (!EraseError.isInstance(error) && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return exitCode(error);
  }
}

/** True when this module is the program being run (the `erase` bin, possibly through a symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const controller = new AbortController();
  process.on('SIGINT', () => {
    if (controller.signal.aborted) {
      try {
        removeStagingFolders(); // an output being written is left as it was, with no partial folder beside it
      } finally {
        process.exit(130);
      }
    }
    process.stderr.write('\nerase: interrupted, cleaning up (Ctrl-C again to quit at once)\n');
    controller.abort();
  });
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).then((code) => {
    process.exitCode = code;
  });
}
