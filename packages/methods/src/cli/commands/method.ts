/**
 * `erase <method> --concepts … --out <dir>`: loads the model, fingerprints its weight files, runs the method (progress
 * on stderr, Ctrl-C aborts), and saves the erasure (unet_delta.safetensors, lora.safetensors, erase_config.json).
 * Options: `--config file.json` (API option names) overridden by flags. Everything is validated before the model is
 * loaded, and `--out` is checked before the method runs.
 */
import { InvalidOptionError, UnsupportedError } from '@erase/core';
import { baseFingerprint } from '../../io/fingerprint';
import { save } from '../../io/save';
import { HELP_FLAG, MODEL_FLAGS, OUTPUT_FLAGS, parseFlags, readConfigFile, required, setOption, usage, type FlagSpecs } from '../args';
import { report, secondsSince, type CommandContext } from '../context';
import { checkOutFlag, checkModelFlags, loadModel, type ModelFlags } from '../load-model';
import type { MethodCommand } from '../methods-table';
import { createProgress } from '../progress';

const METHOD_EXTRA_FLAGS: FlagSpecs = {
  config: { kind: 'string', value: '<file.json>', help: 'options as JSON (API option names); flags override' },
  'lora-format': { kind: 'choice', choices: { peft: 'peft', diffusers: 'diffusers', kohya: 'kohya' }, help: 'LoRA file format: peft (default) | diffusers | kohya' },
};

function specsOf(row: MethodCommand): FlagSpecs {
  return { ...row.flags, ...METHOD_EXTRA_FLAGS, ...MODEL_FLAGS, ...OUTPUT_FLAGS, ...HELP_FLAG };
}

/** Merges `--config` and the method flags into API options. @throws InvalidOptionError naming the flag */
export function methodOptions(row: MethodCommand, flags: Record<string, unknown>): Record<string, unknown> {
  const options = typeof flags.config === 'string' ? readConfigFile(flags.config) : {};
  for (const [name, spec] of Object.entries(row.flags)) {
    const value = flags[name];
    if (value === undefined || value === false) continue;
    setOption(options, spec.option, spec.kind === 'boolean' ? (spec.set ?? true) : value);
  }
  if ('inPlace' in options && options.inPlace !== true) {
    throw new InvalidOptionError({
      option: '--config',
      expected: 'no inPlace, or inPlace: true (the CLI saves the edit the method writes into the model)',
      received: options.inPlace,
      message: `--config: inPlace ${JSON.stringify(options.inPlace)} would leave the model unedited, so erase ${row.command} would have nothing to save; drop it.`,
    });
  }
  const concepts = required('concepts', options.concepts as string[] | undefined, 'the concepts to erase, comma-separated');
  if (!Array.isArray(concepts) || concepts.length === 0 || concepts.some((c) => typeof c !== 'string' || c.trim() === '')) {
    throw new InvalidOptionError({ option: '--concepts', expected: 'non-empty concepts, comma-separated', received: concepts });
  }
  return options;
}

/** An InvalidOptionError about an API option that a flag sets, re-worded to name the flag too. */
function withFlagName(row: MethodCommand, error: unknown): unknown {
  if (!InvalidOptionError.isInstance(error)) return error;
  const flag = Object.entries(row.flags).find(([, spec]) => spec.option === error.option)?.[0];
  if (flag === undefined) return error;
  return new InvalidOptionError({ option: `--${flag}`, expected: error.expected, received: error.received, message: `--${flag}: ${error.message}` });
}

/** Runs one method subcommand; returns the exit code (errors are thrown to `main`). */
export async function runMethodCommand(row: MethodCommand, argv: readonly string[], context: CommandContext): Promise<number> {
  const specs = specsOf(row);
  const flags = parseFlags(argv, specs, row.command);
  if (flags.help) {
    context.stdout.write(usage(row.command, row.summary, specs, row.run ? '' : `\nNote: ${row.command} is not available in this build yet.\n`));
    return 0;
  }
  if (!row.run) throw new UnsupportedError(`erase ${row.command}: the ${row.command} method is not available in this build yet.`);
  const options = methodOptions(row, flags);
  try {
    row.resolve?.(options);
  } catch (error) {
    throw withFlagName(row, error);
  }
  const out = required('out', flags.out as string | undefined, 'the folder to save the erasure into');
  const overwrite = flags.overwrite === true;
  const modelFlags = flags as ModelFlags;
  checkOutFlag(out, overwrite, modelFlags);
  checkModelFlags(modelFlags);

  const start = performance.now();
  const progress = createProgress(context.stderr);
  const model = await loadModel(modelFlags);
  try {
    const fingerprint = baseFingerprint(model);
    const run = { ...options, onProgress: progress.listener, ...(context.signal ? { signal: context.signal } : {}) };
    const result = await row.run(model, run);
    try {
      const saved = await save(model, result, out, {
        fingerprint,
        overwrite,
        ...(flags['lora-format'] ? { loraFormat: flags['lora-format'] as 'peft' | 'diffusers' | 'kohya' } : {}),
        onProgress: progress.listener,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      progress.finish();
      if (flags['lora-format'] !== undefined && saved.config.files.lora === null) {
        const why = result.lora?.fused ? 'its LoRA was fused into the weights (in the delta)' : 'it trained no LoRA to keep separate';
        context.stderr.write(`warning: --lora-format ${String(flags['lora-format'])} had no effect: erase ${row.command} saved no lora.safetensors (${why}).\n`);
      }
      const summary = {
        command: row.command,
        method: result.method,
        out,
        files: saved.files,
        changedParameters: result.changedParameters.length,
        lora: saved.config.files.lora !== null,
        seeds: saved.config.seeds,
        baseModel: { source: fingerprint.source, sha256: fingerprint.sha256 },
        seconds: secondsSince(start),
      };
      report(context, flags.json === true, summary, [
        `${row.command}: erased ${(options.concepts as string[]).join(', ')} from ${model.source} in ${summary.seconds} s`,
        `  ${result.changedParameters.length} parameters changed${summary.lora ? ', LoRA saved' : ''}`,
        `  wrote ${saved.files.map((f) => `${out}/${f}`).join(', ')}`,
      ]);
      return 0;
    } finally {
      result.dispose();
    }
  } finally {
    progress.finish();
    model.dispose();
  }
}
