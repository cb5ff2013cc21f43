/**
 * `erase export [--model <dir>] [--erasure <dir>] --out <dir>`: writes the model, with a saved erasure applied (an
 * unfused LoRA folded in), as a complete diffusers folder (`exportModel`), atomically.
 */
import { exportModel } from '../../io/export';
import { HELP_FLAG, MODEL_FLAGS, OUTPUT_FLAGS, existingPath, parseFlags, required, usage, type FlagSpecs } from '../args';
import { report, secondsSince, type CommandContext } from '../context';
import { createProgress } from '../progress';
import { checkOutFlag, checkModelFlags, loadModelWithErasure, type ModelFlags } from '../load-model';

const SPECS: FlagSpecs = {
  erasure: { kind: 'string', value: '<dir>', help: 'apply a saved erasure first (a folder written by erase <method> --out)' },
  ...MODEL_FLAGS,
  ...OUTPUT_FLAGS,
  ...HELP_FLAG,
};

/** Runs `erase export`; returns the exit code. */
export async function runExport(argv: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseFlags(argv, SPECS, 'export');
  if (flags.help) {
    context.stdout.write(usage('export', 'Write the (erased) model as a complete diffusers folder.', SPECS));
    return 0;
  }
  const out = required('out', flags.out as string | undefined, 'the folder to write the model into');
  const overwrite = flags.overwrite === true;
  const erasure = existingPath('erasure', flags.erasure as string | undefined);
  checkOutFlag(out, overwrite, flags as ModelFlags, erasure);
  checkModelFlags(flags as ModelFlags);
  const start = performance.now();
  const { model, applied } = await loadModelWithErasure(flags as ModelFlags, erasure);
  try {
    const progress = createProgress(context.stderr);
    let exported;
    try {
      exported = await exportModel(model, out, { overwrite, onProgress: progress.listener, ...(context.signal ? { signal: context.signal } : {}) });
    } finally {
      progress.finish();
    }
    const summary = { command: 'export', out, files: exported.files, model: model.source, erasure: erasure ?? null, method: applied?.config.method ?? null, seconds: secondsSince(start) };
    report(context, flags.json === true, summary, [`export: wrote ${exported.files.length} files to ${out} in ${summary.seconds} s`]);
    return 0;
  } finally {
    model.dispose();
  }
}
