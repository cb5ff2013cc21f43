/**
 * Generation quality of the world (acceptance: images of "a photo of the {class}" classified by the oracle as that
 * class ≥ 90% averaged over classes, of "a photo of the {synonym}" ≥ 80%), the priors under the bare prefix and
 * under "", and the images of the PNG grid — all from one batched pass over prompts × seeds.
 *
 * Notation: S the seed list (every prompt uses all of S), N = |S| images per prompt; per prompt the top-1 rate and
 * mean probability of prompt-scores.ts; class mean = the mean over the 10 class prompts, synonym mean = the mean
 * over the 30 synonym prompts (each prompt weighs the same).
 */
import { InvalidOptionError, type DiffusionModel, type LongRunningOptions } from '@erase/core';
import type { ImageClassifierLike } from '../oracle/accuracy';
import { SHAPE_CLASSES, type ShapeClass } from '../world/vocabulary';
import { mean, scorePrompt, type PromptScore } from './prompt-scores';
import { photoPrompt, qualityPrompts, type EvaluationPrompt } from './prompts';
import { sampleAndClassify, type SamplingSettings } from './sample-and-classify';

/** Acceptance thresholds (top-1, percent). */
export const QUALITY_THRESHOLDS = Object.freeze({ classTop1: 90, synonymTop1: 80 });

/** Synonyms shown in the grid below the class rows (one each for four classes). */
export const GRID_SYNONYMS: readonly string[] = ['disc', 'valentine', 'donut', 'sickle'];

/** Options of `measureQuality`. */
export interface QualityOptions extends SamplingSettings, LongRunningOptions {
  /** Seeds used for every prompt. */
  readonly seeds: readonly number[];
  readonly classes?: readonly ShapeClass[];
  /** Grid columns: the first `gridColumns` seeds (default 8, at most |S|). */
  readonly gridColumns?: number;
  /** Synonym rows of the grid (default `GRID_SYNONYMS`; each must be a synonym of `classes`). */
  readonly gridSynonyms?: readonly string[];
}

/** The grid's images, row-major: row r, column c at index r·columns + c. */
export interface QualityGrid {
  /** The prompt of each row. */
  readonly rows: readonly string[];
  /** The seed of each column. */
  readonly seeds: readonly number[];
  /** float32 [rows·columns, H, W, 3] in [-1, 1]. */
  readonly images: Float32Array;
  readonly imageShape: readonly [number, number, number];
}

/** What `measureQuality` returns. */
export interface QualityResult {
  readonly seeds: readonly number[];
  readonly classPrompts: readonly PromptScore[];
  readonly synonymPrompts: readonly PromptScore[];
  /** "a photo of the" alone: its per-class rates are the prior a word-level edit leaves in place. */
  readonly prefix: PromptScore;
  /** "" (the unconditional prompt). */
  readonly empty: PromptScore;
  /** Means over prompts, percent. */
  readonly classTop1: number;
  readonly classMeanProbability: number;
  readonly synonymTop1: number;
  readonly synonymMeanProbability: number;
  readonly passes: { readonly classes: boolean; readonly synonyms: boolean };
  readonly grid: QualityGrid;
  /** Images generated, and the wall time of sampling and of classifying them (ms). */
  readonly imageCount: number;
  readonly samplingMs: number;
  readonly classifyMs: number;
}

/**
 * Generates every quality prompt with every seed, classifies the images and keeps the grid's. No tensor outlives
 * the call. Progress: stage 'evaluate.quality', one event per batch.
 * @throws InvalidOptionError for no seeds, an unknown grid synonym or a classifier whose classes are not `classes`;
 *   as `sampleAndClassify`.
 */
export async function measureQuality(model: DiffusionModel, classifier: ImageClassifierLike, options: QualityOptions): Promise<QualityResult> {
  const classes = options.classes ?? SHAPE_CLASSES;
  const seeds = [...options.seeds];
  if (seeds.length === 0) throw new InvalidOptionError({ option: 'seeds', expected: 'at least one seed', received: seeds });
  checkClassifier(classifier, classes);
  const gridSynonyms = options.gridSynonyms ?? GRID_SYNONYMS;
  for (const word of gridSynonyms) {
    if (!classes.some((c) => c.synonyms.includes(word))) {
      throw new InvalidOptionError({ option: 'gridSynonyms', expected: 'synonyms of the measured classes', received: word });
    }
  }
  const columns = Math.min(options.gridColumns ?? 8, seeds.length);
  if (!Number.isInteger(columns) || columns < 1) {
    throw new InvalidOptionError({ option: 'gridColumns', expected: 'a positive integer', received: options.gridColumns });
  }
  const prompts = qualityPrompts(classes);
  const gridRows = [...classes.map((c) => photoPrompt(c.name)), ...gridSynonyms.map(photoPrompt)];
  const requests = prompts.flatMap((p) => seeds.map((seed) => ({ prompt: p.prompt, seed })));
  const gridIndex = new Map<number, number>(); // request index -> grid cell
  gridRows.forEach((prompt, r) => {
    const p = prompts.findIndex((q) => q.prompt === prompt);
    for (let c = 0; c < columns; c++) gridIndex.set(p * seeds.length + c, r * columns + c);
  });
  const sampled = await sampleAndClassify(model, classifier, requests, {
    ...samplingOf(options),
    keepImages: (i) => gridIndex.has(i),
    stage: 'evaluate.quality',
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const scores = prompts.map((p: EvaluationPrompt, i) => scorePrompt(p.prompt, sampled.probabilities.slice(i * seeds.length, (i + 1) * seeds.length), p.label));
  const ofKind = (kind: EvaluationPrompt['kind']): PromptScore[] => scores.filter((_, i) => prompts[i]?.kind === kind);
  const classPrompts = ofKind('class');
  const synonymPrompts = ofKind('synonym');
  const [h, w] = sampled.imageShape;
  const pixels = h * w * 3;
  const gridImages = new Float32Array(gridRows.length * columns * pixels);
  for (const [request, cell] of gridIndex) gridImages.set(sampled.images.get(request) as Float32Array, cell * pixels);
  const classTop1 = mean(classPrompts.map((s) => s.top1));
  const synonymTop1 = mean(synonymPrompts.map((s) => s.top1));
  return {
    seeds,
    classPrompts,
    synonymPrompts,
    prefix: ofKind('prefix')[0] as PromptScore,
    empty: ofKind('empty')[0] as PromptScore,
    classTop1,
    classMeanProbability: mean(classPrompts.map((s) => s.meanProbability)),
    synonymTop1,
    synonymMeanProbability: mean(synonymPrompts.map((s) => s.meanProbability)),
    passes: { classes: classTop1 >= QUALITY_THRESHOLDS.classTop1, synonyms: synonymTop1 >= QUALITY_THRESHOLDS.synonymTop1 },
    grid: { rows: gridRows, seeds: seeds.slice(0, columns), images: gridImages, imageShape: [h, w, 3] },
    imageCount: requests.length,
    samplingMs: sampled.samplingMs,
    classifyMs: sampled.classifyMs,
  };
}

/** The sampling settings of an options object, without undefined entries. */
export function samplingOf(options: SamplingSettings): SamplingSettings {
  return {
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.guidanceScale === undefined ? {} : { guidanceScale: options.guidanceScale }),
  };
}

/**
 * Checks that the classifier scores exactly `classes`, in order.
 * @throws InvalidOptionError naming `classifier.classNames` otherwise.
 */
export function checkClassifier(classifier: ImageClassifierLike, classes: readonly ShapeClass[]): void {
  const names = classes.map((c) => c.name);
  if (classifier.classNames.length !== names.length || classifier.classNames.some((n, i) => n !== names[i])) {
    throw new InvalidOptionError({ option: 'classifier.classNames', expected: `the classes ${names.join(', ')}`, received: classifier.classNames });
  }
}
