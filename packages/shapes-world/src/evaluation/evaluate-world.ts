/**
 * The whole measurement of the embedded world (`pnpm eval:shapes`): generation quality with priors and the grid,
 * generation speed, text geometry, and concept residue under a word-level erasure. Each part is its own module;
 * this one runs them in order and times them.
 *
 * Speed: ms per image = wall time inside `textToImage` / images generated (batched, `steps` DDIM steps, guidance g
 * → 2·steps UNet evaluations per image when g > 1), over every image of the run (quality and residue parts).
 */
import { type DiffusionModel, type LongRunningOptions } from '@erase/core';
import type { ImageClassifierLike } from '../oracle/accuracy';
import { SHAPE_CLASSES, type ShapeClass } from '../world/vocabulary';
import { measureQuality, type QualityResult } from './quality';
import { measureResidue, type ErasedClassScorer, type ResidueResult } from './residue';
import { SAMPLING_DEFAULTS, type SamplingSettings } from './sample-and-classify';
import { measureTextGeometry, type TextGeometry } from './text-geometry';

/** Options of `evaluateWorld`. */
export interface WorldEvaluationOptions extends SamplingSettings, LongRunningOptions {
  /** Seeds of every prompt (quality and residue). */
  readonly seeds: readonly number[];
  /** Seeds of the other classes' prompts in the residue part (Acc_s; default `seeds`). */
  readonly otherSeeds?: readonly number[];
  /** The residue scorer: `scoreErasedClass` of @erase/eval. */
  readonly score: ErasedClassScorer;
  readonly classes?: readonly ShapeClass[];
  /** Classes erased in the residue part (default: all). */
  readonly erase?: readonly string[];
  /** Closed-form settings of the residue part (defaults: residue.ts). */
  readonly lambda?: number;
  readonly eraseScale?: number;
  readonly preserveScale?: number;
  readonly anchorPrompt?: string;
  /** Grid columns (default 8). */
  readonly gridColumns?: number;
}

/** Generation speed. */
export interface SpeedFigures {
  readonly images: number;
  readonly samplingMs: number;
  /** samplingMs / images. */
  readonly msPerImage: number;
  /** Classification time per image (ms). */
  readonly classifyMsPerImage: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly batchSize: number;
  /** UNet evaluations per image (2·steps with guidance, steps without). */
  readonly unetEvaluationsPerImage: number;
}

/** The measurement. */
export interface WorldEvaluation {
  readonly source: string;
  readonly seeds: readonly number[];
  readonly quality: QualityResult;
  readonly geometry: TextGeometry;
  readonly residue: ResidueResult;
  readonly speed: SpeedFigures;
  /** Wall time of each part and in total (ms). */
  readonly timings: { readonly qualityMs: number; readonly geometryMs: number; readonly residueMs: number; readonly totalMs: number };
}

/**
 * Runs the measurement. The model's weights are the same before and after (the residue part restores them).
 * Progress events of the parts: 'evaluate.quality', 'evaluate.residue' (per batch).
 * @throws as `measureQuality`, `measureTextGeometry` and `measureResidue`.
 */
export async function evaluateWorld(model: DiffusionModel, classifier: ImageClassifierLike, options: WorldEvaluationOptions): Promise<WorldEvaluation> {
  const classes = options.classes ?? SHAPE_CLASSES;
  const common = {
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.guidanceScale === undefined ? {} : { guidanceScale: options.guidanceScale }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    classes,
    seeds: options.seeds,
  };
  const t0 = performance.now();
  const quality = await measureQuality(model, classifier, { ...common, ...(options.gridColumns === undefined ? {} : { gridColumns: options.gridColumns }) });
  const t1 = performance.now();
  const geometry = await measureTextGeometry(model.textEncoder, classes);
  const t2 = performance.now();
  const residue = await measureResidue(model, classifier, {
    ...common,
    score: options.score,
    ...(options.otherSeeds === undefined ? {} : { otherSeeds: options.otherSeeds }),
    ...(options.erase === undefined ? {} : { erase: options.erase }),
    ...(options.lambda === undefined ? {} : { lambda: options.lambda }),
    ...(options.eraseScale === undefined ? {} : { eraseScale: options.eraseScale }),
    ...(options.preserveScale === undefined ? {} : { preserveScale: options.preserveScale }),
    ...(options.anchorPrompt === undefined ? {} : { anchorPrompt: options.anchorPrompt }),
  });
  const t3 = performance.now();
  const images = quality.imageCount + residue.imageCount;
  const samplingMs = quality.samplingMs + residue.samplingMs;
  const guidanceScale = options.guidanceScale ?? model.defaultGuidanceScale;
  const steps = options.steps ?? SAMPLING_DEFAULTS.steps;
  return {
    source: model.source,
    seeds: [...options.seeds],
    quality,
    geometry,
    residue,
    speed: {
      images,
      samplingMs,
      msPerImage: samplingMs / images,
      classifyMsPerImage: quality.classifyMs / quality.imageCount,
      steps,
      guidanceScale,
      batchSize: options.batchSize ?? SAMPLING_DEFAULTS.batchSize,
      unetEvaluationsPerImage: guidanceScale > 1 ? 2 * steps : steps,
    },
    timings: { qualityMs: t1 - t0, geometryMs: t2 - t1, residueMs: t3 - t2, totalMs: t3 - t0 },
  };
}
