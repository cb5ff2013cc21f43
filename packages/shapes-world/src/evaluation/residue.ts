/**
 * Concept residue of the world under a word-level erasure (docs/shapes-world.md "What it measured"; the MACE
 * protocol of methods.md §6): for each class c, erase "a photo of the c" with the UCE closed form
 * (word-erasure.ts), generate from its own prompt, the other classes' prompts and its three synonyms' prompts, score
 * the oracle's probabilities, and restore the weights.
 *
 * Notation (percent): Acc_e = score of c's prompt (↓), Acc_s = mean over the other classes of their own prompts'
 * scores (↑), Acc_g = c's synonyms' prompts scored as c (↓), H_o = 3 / (1/(100 − Acc_e) + 1/Acc_s + 1/(100 − Acc_g));
 * "score" is the mean probability of the intended class (MACE, default) or its top-1 rate. Means over classes are
 * plain means of the per-class values (H_o: the mean of per-class H_o). Residue = Acc_g − Acc_e: the concept the
 * edit missed because it lives on under other words.
 * The scorer is passed in (`scoreErasedClass` of @erase/eval has this signature), so the metric has one definition.
 */
import { InvalidOptionError, type DiffusionModel, type LongRunningOptions } from '@erase/core';
import type { ImageClassifierLike } from '../oracle/accuracy';
import { SHAPE_CLASSES, type ShapeClass } from '../world/vocabulary';
import { mean, scorePrompt, type PromptScore } from './prompt-scores';
import { ANCHOR_PROMPT, photoPrompt } from './prompts';
import { checkClassifier, samplingOf } from './quality';
import { sampleAndClassify, type SampleRequest, type SamplingSettings } from './sample-and-classify';
import {
  eraseWord,
  projectionsEqual,
  residueRatios,
  restoreProjections,
  snapshotProjections,
  wordErasureKeys,
  type WordErasureWeights,
} from './word-erasure';

/** How an image enters the scores when one class is erased (as @erase/eval's `PromptRole`). */
export type ResidueRole = 'erased' | 'other' | 'synonym';

/** One classified image (structurally @erase/eval's `ClassifiedImage`). */
export interface ClassifiedImageRecord {
  readonly probabilities: ArrayLike<number>;
  /** The class the image should show (for a synonym prompt, the erased class). */
  readonly intendedClass: string;
  readonly role: ResidueRole;
}

/** Acc_e, Acc_s, Acc_g, H_o in percent. */
export interface ErasureFigures {
  readonly accE: number;
  readonly accS: number;
  readonly accG: number;
  readonly ho: number;
}

/** Computes the figures of one erased class from its images (pass @erase/eval's `scoreErasedClass`). */
export type ErasedClassScorer = (
  images: readonly ClassifiedImageRecord[],
  options: { readonly classNames: readonly string[]; readonly erasedClass: string; readonly variant: 'meanProbability' | 'top1' },
) => ErasureFigures;

/** Options of `measureResidue`. */
export interface ResidueOptions extends SamplingSettings, LongRunningOptions {
  /** Seeds of the erased class's prompt and of its synonyms' prompts. */
  readonly seeds: readonly number[];
  /**
   * Seeds of each other class's prompt (Acc_s; default `seeds`). Acc_s averages 9 prompts, so fewer seeds per prompt
   * give it about the noise of Acc_e at a third of the images.
   */
  readonly otherSeeds?: readonly number[];
  /** The scorer (`scoreErasedClass` of @erase/eval). */
  readonly score: ErasedClassScorer;
  /** All classes of the world (the classifier's, in order; default `SHAPE_CLASSES`). */
  readonly classes?: readonly ShapeClass[];
  /** Names of the classes to erase one at a time (default: all). */
  readonly erase?: readonly string[];
  /** Anchor prompt (default " "). */
  readonly anchorPrompt?: string;
  /** λ (default 0.1). */
  readonly lambda?: number;
  /** s_e (default 1). */
  readonly eraseScale?: number;
  /** s_p (default UCE 2023's max(0.1, 1 / number of preserved prompts)). */
  readonly preserveScale?: number;
}

/** Default closed-form weights of the measurement (s_p: see `ResidueOptions.preserveScale`). */
export const RESIDUE_DEFAULTS = Object.freeze({ lambda: 0.1, eraseScale: 1 });

/** The residue measurement of one erased class. */
export interface ErasedClassResidue {
  readonly erasedClass: string;
  readonly label: number;
  readonly meanProbability: ErasureFigures;
  readonly top1: ErasureFigures;
  /** Per prompt under the edited model. */
  readonly prompts: { readonly erased: PromptScore; readonly others: readonly PromptScore[]; readonly synonyms: readonly PromptScore[] };
  /** ρ (word-erasure.ts) of the class prompt and of each synonym prompt, computed before any sampling. */
  readonly predictor: readonly { readonly word: string; readonly ratio: number }[];
  /** The edit: mean and largest ‖W′ − W‖/‖W‖ over the projections, and Σ‖C W′ᵀ − V‖ / Σ‖C Wᵀ − V‖. */
  readonly edit: { readonly meanRelativeChange: number; readonly maxRelativeChange: number; readonly residualRatio: number };
  /** Whether the projections read back bit-identical to the originals after the restore. */
  readonly restored: boolean;
  readonly imageCount: number;
  readonly samplingMs: number;
}

/** What `measureResidue` returns. */
export interface ResidueResult {
  readonly seeds: readonly number[];
  readonly otherSeeds: readonly number[];
  readonly settings: {
    readonly anchorPrompt: string;
    readonly weights: WordErasureWeights;
    /** L and i_e of the class prompts' erase slice (uce-token-slices.ts). */
    readonly sliceLength: number;
    readonly sliceStart: number;
    /** Projections edited per class (2 per cross-attention site). */
    readonly projectionCount: number;
  };
  readonly perClass: readonly ErasedClassResidue[];
  readonly means: { readonly meanProbability: ErasureFigures; readonly top1: ErasureFigures };
  readonly imageCount: number;
  readonly samplingMs: number;
}

/**
 * Erases each class in turn, measures, and restores the original projections (also when it throws).
 * Progress: stage 'evaluate.residue', per batch, `message` naming the class ("circle (1/10)").
 * @throws InvalidOptionError for no seeds, an unknown class to erase, a classifier whose classes differ, or when a
 *   restore does not give the original weights back; errors of the edit, the sampler or the scorer.
 */
export async function measureResidue(model: DiffusionModel, classifier: ImageClassifierLike, options: ResidueOptions): Promise<ResidueResult> {
  const classes = options.classes ?? SHAPE_CLASSES;
  const classNames = classes.map((c) => c.name);
  checkClassifier(classifier, classes);
  const seeds = [...options.seeds];
  if (seeds.length === 0) throw new InvalidOptionError({ option: 'seeds', expected: 'at least one seed', received: seeds });
  const otherSeeds = [...(options.otherSeeds ?? seeds)];
  if (otherSeeds.length === 0) throw new InvalidOptionError({ option: 'otherSeeds', expected: 'at least one seed', received: otherSeeds });
  const toErase = options.erase ?? classNames;
  for (const name of toErase) {
    if (!classNames.includes(name)) throw new InvalidOptionError({ option: 'erase', expected: `class names among ${classNames.join(', ')}`, received: name });
  }
  const anchorPrompt = options.anchorPrompt ?? ANCHOR_PROMPT;
  const weights: WordErasureWeights = {
    lambda: options.lambda ?? RESIDUE_DEFAULTS.lambda,
    eraseScale: options.eraseScale ?? RESIDUE_DEFAULTS.eraseScale,
    preserveScale: options.preserveScale ?? Math.max(0.1, 1 / Math.max(1, classes.length - 1)),
  };
  const sites = model.unet.crossAttentionSites();
  const original = await snapshotProjections(sites);
  const perClass: ErasedClassResidue[] = [];
  let sliceLength = 0;
  let sliceStart = 0;
  for (const [index, name] of toErase.entries()) {
    const label = classNames.indexOf(name);
    const erased = classes[label] as ShapeClass;
    const others = classes.filter((_, j) => j !== label);
    const keys = await wordErasureKeys(model.textEncoder, {
      erasePrompt: photoPrompt(name),
      anchorPrompt,
      preservePrompts: others.map((c) => photoPrompt(c.name)),
      probePrompts: [name, ...erased.synonyms].map(photoPrompt),
    });
    sliceLength = keys.slices.length;
    sliceStart = keys.slices.eraseStart;
    const prompts: { prompt: string; role: ResidueRole; intended: number }[] = [
      { prompt: photoPrompt(name), role: 'erased', intended: label },
      ...others.map((c) => ({ prompt: photoPrompt(c.name), role: 'other' as const, intended: classNames.indexOf(c.name) })),
      ...erased.synonyms.map((w) => ({ prompt: photoPrompt(w), role: 'synonym' as const, intended: label })),
    ];
    const seedsOf = (role: ResidueRole): readonly number[] => (role === 'other' ? otherSeeds : seeds);
    const requests: (SampleRequest & { readonly promptIndex: number })[] = prompts.flatMap((p, j) => seedsOf(p.role).map((seed) => ({ prompt: p.prompt, seed, promptIndex: j })));
    let restored = false;
    let sampled: Awaited<ReturnType<typeof sampleAndClassify>>;
    let report: Awaited<ReturnType<typeof eraseWord>>;
    let predictor: { prompt: string; ratio: number }[];
    try {
      report = await eraseWord(sites, keys, weights);
      predictor = residueRatios(keys, original, await snapshotProjections(sites));
      const listener = options.onProgress;
      sampled = await sampleAndClassify(model, classifier, requests, {
        ...samplingOf(options),
        stage: 'evaluate.residue',
        ...(listener ? { onProgress: (event) => listener({ ...event, message: `${name} (${index + 1}/${toErase.length})` }) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      restoreProjections(original);
      restored = await projectionsEqual(original);
    }
    if (!restored) {
      throw new InvalidOptionError({ option: 'model', expected: 'cross-attention sites that read back what was written', received: `changed weights after restoring "${name}"` });
    }
    const records: ClassifiedImageRecord[] = requests.map((r, i) => {
      const p = prompts[r.promptIndex] as (typeof prompts)[number];
      return { probabilities: sampled.probabilities[i] as Float32Array, intendedClass: classNames[p.intended] as string, role: p.role };
    });
    const promptScores = prompts.map((p, j) => scorePrompt(p.prompt, sampled.probabilities.filter((_, i) => requests[i]?.promptIndex === j), p.intended));
    const changes = report.projections.map((s) => s.relativeChange);
    const residualAfter = report.projections.reduce((sum, s) => sum + s.residualAfter, 0);
    const residualBefore = report.projections.reduce((sum, s) => sum + s.residualBefore, 0);
    perClass.push({
      erasedClass: name,
      label,
      meanProbability: pick(options.score(records, { classNames, erasedClass: name, variant: 'meanProbability' })),
      top1: pick(options.score(records, { classNames, erasedClass: name, variant: 'top1' })),
      prompts: { erased: promptScores[0] as PromptScore, others: promptScores.slice(1, 1 + others.length), synonyms: promptScores.slice(1 + others.length) },
      predictor: predictor.map((p, j) => ({ word: [name, ...erased.synonyms][j] as string, ratio: p.ratio })),
      edit: {
        meanRelativeChange: mean(changes),
        maxRelativeChange: Math.max(...changes),
        residualRatio: residualBefore > 0 ? residualAfter / residualBefore : Number.NaN,
      },
      restored,
      imageCount: requests.length,
      samplingMs: sampled.samplingMs,
    });
  }
  return {
    seeds,
    otherSeeds,
    settings: { anchorPrompt, weights, sliceLength, sliceStart, projectionCount: original.size },
    perClass,
    means: {
      meanProbability: meanFigures(perClass.map((c) => c.meanProbability)),
      top1: meanFigures(perClass.map((c) => c.top1)),
    },
    imageCount: perClass.reduce((sum, c) => sum + c.imageCount, 0),
    samplingMs: perClass.reduce((sum, c) => sum + c.samplingMs, 0),
  };
}

function pick(figures: ErasureFigures): ErasureFigures {
  return { accE: figures.accE, accS: figures.accS, accG: figures.accG, ho: figures.ho };
}

/** Means of each figure over erased classes (H_o: the mean of per-class H_o). NaN for none. */
export function meanFigures(perClass: readonly ErasureFigures[]): ErasureFigures {
  return {
    accE: mean(perClass.map((f) => f.accE)),
    accS: mean(perClass.map((f) => f.accS)),
    accG: mean(perClass.map((f) => f.accG)),
    ho: mean(perClass.map((f) => f.ho)),
  };
}
