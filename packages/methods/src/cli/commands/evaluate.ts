/**
 * `erase evaluate [--erasure <dir>] [--concepts heart] --seeds-per-prompt N`: the MACE protocol on the embedded
 * world, scored by its oracle (methods.md §6; @erase/eval's `scoreErasedClass`). For each erased class c:
 *   Acc_e  images of "a photo of the c"                              (↓ after erasure)
 *   Acc_s  images of "a photo of the o" for every class o not erased  (↑)
 *   Acc_g  images of "a photo of the s" for c's three synonyms s, scored as c (↓)
 *   H_o    harmonic mean of (100 − Acc_e, Acc_s, 100 − Acc_g)
 * in percent, with the mean-probability score (MACE) and top-1. Each prompt gets the same seeds, so a base and an
 * erased model see the same initial noise. The erased classes default to the erasure's `concepts`.
 */
import { InvalidOptionError, UnsupportedError, writeJsonFileAtomic } from '@erase/core';
import { scoreErasedClass, type ClassifiedImage } from '@erase/eval';
import { SHAPE_CLASSES, ShapesWorldModel, classOfWord, photoPrompt, sampleAndClassify, seedRange, type SampleRequest, type ShapeClass } from '@erase/shapes-world';
import { join } from 'node:path';
import { writeFolderAtomic } from '../../io/staging';
import { HELP_FLAG, MODEL_FLAGS, OUTPUT_FLAGS, existingPath, parseFlags, usage, type FlagSpecs } from '../args';
import { report, secondsSince, type CommandContext } from '../context';
import { checkOutFlag, checkModelFlags, loadModelWithErasure, type ModelFlags } from '../load-model';
import { createProgress } from '../progress';

const SPECS: FlagSpecs = {
  erasure: { kind: 'string', value: '<dir>', help: 'apply a saved erasure first (a folder written by erase <method> --out)' },
  concepts: { kind: 'list', help: "erased classes to score (default: the erasure's concepts)" },
  'seeds-per-prompt': { kind: 'integer', value: '<n>', help: 'images per prompt (default 4)' },
  seed: { kind: 'integer', value: '<n>', help: 'first seed (default 0)' },
  steps: { kind: 'integer', value: '<n>', help: 'denoising steps (default 20)' },
  guidance: { kind: 'number', value: '<g>', help: "guidance scale (default: the model's)" },
  'batch-size': { kind: 'integer', value: '<n>', help: 'images per batch (default 32)' },
  ...MODEL_FLAGS,
  out: { kind: 'string', value: '<dir>', help: 'also write evaluation.json into this folder' },
  overwrite: OUTPUT_FLAGS.overwrite as NonNullable<FlagSpecs['overwrite']>,
  ...HELP_FLAG,
};

/** The world class a concept names: the last of its words that is a class word or synonym. */
export function classOfConcept(concept: string): ShapeClass | undefined {
  const words = concept.toLowerCase().split(/[^a-z]+/).filter((w) => w !== '');
  for (const word of words.reverse()) {
    const label = classOfWord(word);
    if (label !== undefined) return SHAPE_CLASSES[label];
  }
  return undefined;
}

/** The shape class a concept names. @throws InvalidOptionError naming --concepts */
function erasedClass(concept: string): ShapeClass {
  const found = classOfConcept(concept);
  if (!found) throw new InvalidOptionError({ option: '--concepts', expected: `concepts naming a shape class (${SHAPE_CLASSES.map((c) => c.name).join(', ')})`, received: concept });
  return found;
}

/** Runs `erase evaluate`; returns the exit code. */
export async function runEvaluate(argv: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseFlags(argv, SPECS, 'evaluate');
  if (flags.help) {
    context.stdout.write(usage('evaluate', 'Acc_e / Acc_s / Acc_g / H_o of the erased class(es) on the embedded shapes world, scored by its oracle.', SPECS));
    return 0;
  }
  const perPrompt = (flags['seeds-per-prompt'] as number | undefined) ?? 4;
  for (const flag of ['seeds-per-prompt', 'steps', 'batch-size']) {
    const v = flags[flag] as number | undefined;
    if (v !== undefined && v < 1) throw new InvalidOptionError({ option: `--${flag}`, expected: 'a positive integer', received: v });
  }
  const erasure = existingPath('erasure', flags.erasure as string | undefined);
  const out = flags.out as string | undefined;
  if (out !== undefined) checkOutFlag(out, flags.overwrite === true, flags as ModelFlags, erasure);
  checkModelFlags(flags as ModelFlags);
  // what can be checked without the model is checked before it loads
  if (flags.concepts === undefined && erasure === undefined) {
    throw new InvalidOptionError({ option: '--concepts', expected: 'the erased classes (or --erasure, whose concepts are used)', received: undefined });
  }
  for (const concept of (flags.concepts as string[] | undefined) ?? []) erasedClass(concept);

  const start = performance.now();
  const progress = createProgress(context.stderr);
  const { model, applied } = await loadModelWithErasure(flags as ModelFlags, erasure);
  try {
    if (!(model instanceof ShapesWorldModel) || !model.oracle) {
      throw new UnsupportedError(`erase evaluate scores images with the shapes world's oracle; ${model.source} has none (use the embedded world or an exported world folder).`);
    }
    const concepts = (flags.concepts as string[] | undefined) ?? ((applied?.config.options.concepts as string[] | undefined) ?? undefined);
    if (concepts === undefined) throw new InvalidOptionError({ option: '--concepts', expected: 'the erased classes (or --erasure, whose concepts are used)', received: undefined });
    const erased = concepts.map(erasedClass);
    const erasedNames = [...new Set(erased.map((c) => c.name))];
    const seeds = seedRange(perPrompt, (flags.seed as number | undefined) ?? 0);
    const prompts = [...SHAPE_CLASSES.map((c) => ({ prompt: photoPrompt(c.name), intended: c.name })),
      ...erased.flatMap((c) => c.synonyms.map((s) => ({ prompt: photoPrompt(s), intended: c.name })))];
    const unique = [...new Map(prompts.map((p) => [p.prompt, p])).values()];
    const requests: SampleRequest[] = unique.flatMap((p) => seeds.map((seed) => ({ prompt: p.prompt, seed })));
    const sampled = await sampleAndClassify(model, model.oracle, requests, {
      ...(flags.steps === undefined ? {} : { steps: flags.steps as number }),
      ...(flags.guidance === undefined ? {} : { guidanceScale: flags.guidance as number }),
      ...(flags['batch-size'] === undefined ? {} : { batchSize: flags['batch-size'] as number }),
      onProgress: progress.listener,
      ...(context.signal ? { signal: context.signal } : {}),
    });
    progress.finish();
    const probabilities = new Map<string, Float32Array[]>();
    requests.forEach((r, i) => probabilities.set(r.prompt, [...(probabilities.get(r.prompt) ?? []), sampled.probabilities[i] as Float32Array]));
    const classNames = model.oracle.classNames;
    const perClass = erasedNames.map((name) => {
      const cls = SHAPE_CLASSES.find((c) => c.name === name) as ShapeClass;
      const images: ClassifiedImage[] = [
        ...(probabilities.get(photoPrompt(name)) ?? []).map((p) => ({ probabilities: p, intendedClass: name, role: 'erased' as const })),
        ...SHAPE_CLASSES.filter((c) => !erasedNames.includes(c.name)).flatMap((c) =>
          (probabilities.get(photoPrompt(c.name)) ?? []).map((p) => ({ probabilities: p, intendedClass: c.name, role: 'other' as const }))),
        ...cls.synonyms.flatMap((s) => (probabilities.get(photoPrompt(s)) ?? []).map((p) => ({ probabilities: p, intendedClass: name, role: 'synonym' as const }))),
      ];
      const score = (variant: 'meanProbability' | 'top1') => {
        const s = scoreErasedClass(images, { classNames, erasedClass: name, variant });
        return { accE: s.accE, accS: s.accS, accG: s.accG, ho: s.ho };
      };
      return { erasedClass: name, meanProbability: score('meanProbability'), top1: score('top1'), imageCounts: { erased: seeds.length, synonym: 3 * seeds.length } };
    });
    const summary = {
      command: 'evaluate',
      model: model.source,
      erasure: erasure ?? null,
      method: applied?.config.method ?? null,
      seeds,
      images: requests.length,
      perClass,
      seconds: secondsSince(start),
    };
    if (out !== undefined) await writeFolderAtomic(out, { overwrite: flags.overwrite === true }, (staging) => writeJsonFileAtomic(join(staging, 'evaluation.json'), summary));
    const f = (v: number): string => v.toFixed(1).padStart(6);
    report(context, flags.json === true, summary, [
      `evaluate: ${model.source}${erasure ? ` + ${erasure} (${applied?.config.method})` : ''}, ${requests.length} images, ${seeds.length} per prompt, ${summary.seconds} s`,
      'class       score   Acc_e  Acc_s  Acc_g    H_o',
      ...perClass.flatMap((c) => (['meanProbability', 'top1'] as const).map((v) => {
        const m = c[v];
        return `${c.erasedClass.padEnd(10)} ${(v === 'top1' ? 'top-1' : 'mean-p').padEnd(6)}${f(m.accE)} ${f(m.accS)} ${f(m.accG)} ${f(m.ho)}`;
      })),
    ]);
    return 0;
  } finally {
    progress.finish();
    model.dispose();
  }
}
