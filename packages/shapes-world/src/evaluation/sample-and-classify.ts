/**
 * Batched generation + classification for the world's measurement: every (prompt, seed) request becomes one image
 * through @erase/sd's `textToImage` (DDIM, classifier-free guidance against ""), and the oracle scores it.
 *
 * Seeds: request (p, s) starts from z_T = `new Rng(s).normalTensor([1, h, w, C])` — exactly what
 * `textToImage({ prompt: p, seed: s })` draws for a single image — so an image depends on its prompt and seed only,
 * never on how requests are batched, and the same seed gives the same initial noise under every prompt and every
 * edited model (paired comparisons).
 * Images: `textToImage` returns [0, 1]; the oracle reads [-1, 1] (x ↦ 2x − 1).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  InvalidOptionError,
  Rng,
  ShapeMismatchError,
  reportProgress,
  throwIfAborted,
  type DiffusionModel,
  type LongRunningOptions,
} from '@erase/core';
import { textToImage } from '@erase/sd';
import type { ImageClassifierLike } from '../oracle/accuracy';

/** One image to generate. */
export interface SampleRequest {
  readonly prompt: string;
  readonly seed: number;
}

/** Sampling settings of the measurement. */
export interface SamplingSettings {
  /** Images per `textToImage` call (default 32). */
  readonly batchSize?: number;
  /** DDIM steps (default 20). */
  readonly steps?: number;
  /** Guidance scale (default: the model's). */
  readonly guidanceScale?: number;
}

/** Options of `sampleAndClassify`. */
export interface SampleAndClassifyOptions extends SamplingSettings, LongRunningOptions {
  /** Requests whose images are returned (by request index); default none. */
  readonly keepImages?: (index: number) => boolean;
  /** `stage` of the progress events (default 'evaluate.sample'); one event per batch, `step` = images done. */
  readonly stage?: string;
}

/** What `sampleAndClassify` returns (host arrays only). */
export interface SampleAndClassifyResult {
  /** Per request, the classifier's K probabilities. */
  readonly probabilities: Float32Array[];
  /** Kept images, request index → float32 [H·W·3] in [-1, 1] (row-major HWC). */
  readonly images: ReadonlyMap<number, Float32Array>;
  /** [H, W, 3] of the images. */
  readonly imageShape: readonly [number, number, number];
  /** Wall time spent in `textToImage` (ms). */
  readonly samplingMs: number;
  /** Wall time spent classifying (ms). */
  readonly classifyMs: number;
}

/** Defaults of `SamplingSettings` (guidance: the model's). */
export const SAMPLING_DEFAULTS = Object.freeze({ batchSize: 32, steps: 20 });

/**
 * Generates and classifies every request, `batchSize` at a time. No tensor outlives the call.
 * @throws InvalidOptionError for no requests, a bad seed or batch size; ShapeMismatchError for classifier output
 *   that is not [b, K]; AbortedError between batches; errors of `textToImage`.
 */
export async function sampleAndClassify(
  model: DiffusionModel,
  classifier: ImageClassifierLike,
  requests: readonly SampleRequest[],
  options: SampleAndClassifyOptions = {},
): Promise<SampleAndClassifyResult> {
  const batchSize = options.batchSize ?? SAMPLING_DEFAULTS.batchSize;
  const steps = options.steps ?? SAMPLING_DEFAULTS.steps;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidOptionError({ option: 'batchSize', expected: 'a positive integer', received: batchSize });
  }
  if (requests.length === 0) throw new InvalidOptionError({ option: 'requests', expected: 'at least one (prompt, seed)', received: requests });
  requests.forEach((r, i) => {
    if (!Number.isSafeInteger(r.seed) || r.seed < 0) {
      throw new InvalidOptionError({ option: `requests[${i}].seed`, expected: 'a non-negative safe integer', received: r.seed });
    }
  });
  const [h, w, c] = model.latentShape;
  const k = classifier.classNames.length;
  const probabilities: Float32Array[] = [];
  const images = new Map<number, Float32Array>();
  let imageShape: [number, number, number] = [0, 0, 3];
  let samplingMs = 0;
  let classifyMs = 0;
  for (let start = 0; start < requests.length; start += batchSize) {
    throwIfAborted(options.signal, 'sampleAndClassify');
    const batch = requests.slice(start, start + batchSize);
    const latents = tf.tidy(() => tf.concat(batch.map((r) => new Rng(r.seed).normalTensor([1, h, w, c])), 0) as tf.Tensor4D); // [b, h, w, C]
    let generated: tf.Tensor4D | undefined;
    let finalLatents: tf.Tensor4D | undefined;
    let scaled: tf.Tensor4D | undefined;
    let scores: tf.Tensor2D | undefined;
    try {
      const t0 = performance.now();
      const result = await textToImage(model, {
        prompt: batch.map((r) => r.prompt),
        latents,
        numInferenceSteps: steps,
        ...(options.guidanceScale === undefined ? {} : { guidanceScale: options.guidanceScale }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      generated = result.images as tf.Tensor4D; // [b, H, W, 3] in [0, 1]
      finalLatents = result.latents;
      scaled = tf.tidy(() => tf.sub(tf.mul(generated as tf.Tensor4D, 2), 1) as tf.Tensor4D); // [b, H, W, 3] in [-1, 1]
      await scaled.data();
      const t1 = performance.now();
      scores = await classifier.classify(scaled); // [b, H, W, 3] -> [b, K]
      if (scores.rank !== 2 || scores.shape[0] !== batch.length || scores.shape[1] !== k) {
        throw new ShapeMismatchError({ what: 'classifier.classify output', expected: [batch.length, k], received: scores.shape });
      }
      const values = (await scores.data()) as Float32Array;
      classifyMs += performance.now() - t1;
      samplingMs += t1 - t0;
      for (let b = 0; b < batch.length; b++) probabilities.push(values.slice(b * k, (b + 1) * k));
      const [, height, width] = scaled.shape;
      imageShape = [height, width, 3];
      const pixels = height * width * 3;
      const keep = options.keepImages;
      if (keep && batch.some((_, b) => keep(start + b))) {
        const data = (await scaled.data()) as Float32Array;
        batch.forEach((_, b) => {
          if (keep(start + b)) images.set(start + b, data.slice(b * pixels, (b + 1) * pixels));
        });
      }
    } finally {
      latents.dispose();
      generated?.dispose();
      finalLatents?.dispose();
      scaled?.dispose();
      scores?.dispose();
    }
    reportProgress(options.onProgress, {
      stage: options.stage ?? 'evaluate.sample',
      step: start + batch.length,
      total: requests.length,
      metrics: { samplingMs, classifyMs },
    });
  }
  return { probabilities, images, imageShape, samplingMs, classifyMs };
}
