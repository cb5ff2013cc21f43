/**
 * `erase generate --prompt "…" [--prompt "…"] --seeds N --out <dir>`: images from the model (optionally with a saved
 * erasure applied), one PNG per (prompt, seed) named `<prompt#>-<slug>-seed<s>.png`, plus `generate.json` with the
 * settings. Seed s draws the initial latents exactly as `textToImage({ seed: s })`, so images are comparable across
 * models. The folder is written atomically.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, reportProgress, throwIfAborted } from '@erase/core';
import { encodePng, textToImage } from '@erase/sd';
import { ShapesWorldModel, WORLD_SAMPLING_STEPS } from '@erase/shapes-world';
import { writeFolderAtomic } from '../../io/staging';
import { HELP_FLAG, MODEL_FLAGS, OUTPUT_FLAGS, existingPath, parseFlags, required, usage, type FlagSpecs } from '../args';
import { report, secondsSince, type CommandContext } from '../context';
import { checkOutFlag, checkModelFlags, loadModelWithErasure, type ModelFlags } from '../load-model';
import { createProgress } from '../progress';

const SPECS: FlagSpecs = {
  prompt: { kind: 'string', multiple: true, value: '<text>', help: 'prompt (required)' },
  seeds: { kind: 'integer', value: '<n>', help: 'images per prompt, seeds --seed … --seed + n − 1 (default 1)' },
  seed: { kind: 'integer', value: '<n>', help: 'first seed (default 0)' },
  steps: { kind: 'integer', value: '<n>', help: 'denoising steps (default: 20 for the shapes world, 50 otherwise)' },
  guidance: { kind: 'number', value: '<g>', help: "classifier-free guidance scale (default: the model's)" },
  erasure: { kind: 'string', value: '<dir>', help: 'apply a saved erasure (a folder written by erase <method> --out)' },
  ...MODEL_FLAGS,
  ...OUTPUT_FLAGS,
  ...HELP_FLAG,
};

/** `a photo of the heart` → `a-photo-of-the-heart` (at most 40 characters; `empty` for ''). */
export function slug(prompt: string): string {
  const s = prompt.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return s === '' ? 'empty' : s;
}

function positive(flag: string, value: number | undefined): void {
  if (value !== undefined && value < 1) throw new InvalidOptionError({ option: `--${flag}`, expected: 'a positive integer', received: value });
}

/** Runs `erase generate`; returns the exit code. */
export async function runGenerate(argv: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseFlags(argv, SPECS, 'generate');
  if (flags.help) {
    context.stdout.write(usage('generate', 'Generate images (PNG) from the model, optionally with a saved erasure applied.', SPECS));
    return 0;
  }
  const prompts = required('prompt', flags.prompt as string[] | undefined, 'at least one prompt');
  const count = (flags.seeds as number | undefined) ?? 1;
  const first = (flags.seed as number | undefined) ?? 0;
  positive('seeds', count);
  positive('steps', flags.steps as number | undefined);
  if (first < 0) throw new InvalidOptionError({ option: '--seed', expected: 'a non-negative integer', received: first });
  const out = required('out', flags.out as string | undefined, 'the folder to write the images into');
  const overwrite = flags.overwrite === true;
  const erasure = existingPath('erasure', flags.erasure as string | undefined);
  checkOutFlag(out, overwrite, flags as ModelFlags, erasure);
  checkModelFlags(flags as ModelFlags);

  const start = performance.now();
  const progress = createProgress(context.stderr);
  const { model, applied } = await loadModelWithErasure(flags as ModelFlags, erasure);
  try {
    const steps = (flags.steps as number | undefined) ?? (model instanceof ShapesWorldModel ? WORLD_SAMPLING_STEPS : 50);
    const guidance = (flags.guidance as number | undefined) ?? model.defaultGuidanceScale;
    const seeds = Array.from({ length: count }, (_, i) => first + i);
    const total = prompts.length * seeds.length;
    const files = await writeFolderAtomic(out, { overwrite }, async (staging) => {
      const written: string[] = [];
      for (const [p, prompt] of prompts.entries()) {
        for (const seed of seeds) {
          throwIfAborted(context.signal, 'erase generate');
          const result = await textToImage(model, { prompt, seed, numInferenceSteps: steps, guidanceScale: guidance, ...(context.signal ? { signal: context.signal } : {}) });
          const image = tf.squeeze(result.images as tf.Tensor4D, [0]) as tf.Tensor3D; // [1, H, W, 3] -> [H, W, 3]
          try {
            const name = `${p}-${slug(prompt)}-seed${seed}.png`;
            writeFileSync(join(staging, name), await encodePng(image));
            written.push(name);
          } finally {
            image.dispose();
            result.images?.dispose();
            result.latents.dispose();
          }
          reportProgress(progress.listener, { stage: 'generate', step: written.length, total });
        }
      }
      const settings = { model: model.source, erasure: erasure ?? null, method: applied?.config.method ?? null, prompts, seeds, steps, guidanceScale: guidance, images: written };
      writeFileSync(join(staging, 'generate.json'), `${JSON.stringify(settings, null, 2)}\n`);
      return [...written, 'generate.json'];
    });
    progress.finish();
    const summary = { command: 'generate', out, files, model: model.source, erasure: erasure ?? null, steps, guidanceScale: guidance, seconds: secondsSince(start) };
    report(context, flags.json === true, summary, [`generate: wrote ${files.length - 1} images to ${out} in ${summary.seconds} s`]);
    return 0;
  } finally {
    progress.finish();
    model.dispose();
  }
}
