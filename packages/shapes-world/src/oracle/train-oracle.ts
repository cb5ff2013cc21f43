/**
 * Trains the oracle CNN on procedural ShapesWorld images (the measured recipe: 40,000 images, Gaussian-noise
 * augmentation with σ ~ U[0, 0.15] per image, AdamW lr 3e-3 with cosine decay, weight decay 0.01, batch 64,
 * 1,500 steps, cross-entropy).
 *
 * Notation: step t = 0 … T−1, learning rate η_t = η · ½ (1 + cos(π t / T)); loss L = −(1/B) Σ_b log softmax(f(x̃_b))_{y_b}
 * with x̃ = clip(x + σ_b ε, −1, 1), ε ~ N(0, I). BatchNorm uses batch statistics while training and folds them
 * into its running statistics after every step (oracle-cnn.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ensureGradients,
  InvalidOptionError,
  reportProgress,
  Rng,
  throwIfAborted,
  type LongRunningOptions,
} from '@erase/core';
import { generateShapes, type ShapesBatch } from '../generator/generate';
import { CLASS_NAMES } from '../world/vocabulary';
import { AdamW } from '@erase/core';
import { OracleClassifier, type BatchStatistics } from './oracle-cnn';

/** Options of `trainOracle` (defaults: the recipe). */
export interface TrainOracleOptions extends LongRunningOptions {
  /** Optimisation steps T (default 1500). */
  readonly steps?: number;
  /** Images per step B (default 64). */
  readonly batchSize?: number;
  /** Peak learning rate η (default 3e-3). */
  readonly learningRate?: number;
  /** AdamW weight decay λ (default 0.01). */
  readonly weightDecay?: number;
  /** Largest augmentation noise σ (default 0.15; σ ~ U[0, max] per image). */
  readonly maxNoiseStd?: number;
  /** Training images generated when `data` is absent (default 40,000). */
  readonly trainImages?: number;
  /** Training data; generated from `seed` when absent. Not modified. */
  readonly data?: ShapesBatch;
  /** Seed of the data (when generated), the initial weights, the batch order and the noise (default 0). */
  readonly seed?: number;
  /** An oracle to train further; a fresh one from `seed` when absent. Trained in place. */
  readonly oracle?: OracleClassifier;
}

/** What `trainOracle` returns. */
export interface TrainOracleResult {
  /** The trained oracle (the one passed in, or a new one the caller owns). */
  readonly oracle: OracleClassifier;
  /** Training loss per step. */
  readonly losses: Float32Array;
}

/**
 * Trains the oracle on the current tfjs backend (cpu, wasm, …: its convolutions need no Conv2DBackpropFilter
 * kernel; use wasm for the full recipe: 0.27 s per step at batch 64, cpu ~25× slower). Reports `{ stage: 'train.oracle', metrics: { loss, lr } }` per
 * step and checks `signal` between steps. No tensor leaks: afterwards only the oracle's variables remain.
 * @throws InvalidOptionError for a bad option; AbortedError when aborted.
 */
export async function trainOracle(options: TrainOracleOptions = {}): Promise<TrainOracleResult> {
  const steps = checkInteger('steps', options.steps ?? 1500, 1);
  const batchSize = checkInteger('batchSize', options.batchSize ?? 64, 1);
  const learningRate = checkPositive('learningRate', options.learningRate ?? 3e-3);
  const maxNoiseStd = options.maxNoiseStd ?? 0.15;
  if (!(maxNoiseStd >= 0)) throw new InvalidOptionError({ option: 'maxNoiseStd', expected: 'a non-negative number', received: maxNoiseStd });
  const seed = options.seed ?? 0;
  await ensureGradients();
  // independent streams for the data, the initial weights, and the batch order + noise
  const master = new Rng(seed);
  const dataSeed = master.nextUint32();
  const initSeed = master.nextUint32();
  const rng = master.fork();
  const data = options.data ?? generateShapes({ count: checkInteger('trainImages', options.trainImages ?? 40_000, 1), seed: dataSeed });
  const [n, h, w, c] = data.shape;
  if (n < 1) throw new InvalidOptionError({ option: 'data', expected: 'at least one image', received: n });
  const oracle = options.oracle ?? OracleClassifier.create({ seed: initSeed });
  const optimizer = new AdamW(oracle.trainableVariables(), { weightDecay: options.weightDecay ?? 0.01 });
  const losses = new Float32Array(steps);
  const pixels = h * w * c;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let cursor = n; // reshuffle before the first step
  const classes = CLASS_NAMES.length;
  try {
    for (let step = 0; step < steps; step++) {
      throwIfAborted(options.signal, 'trainOracle');
      // host-side batch: B images with per-image Gaussian noise, clipped to [-1, 1]
      const pixelsBatch = new Float32Array(batchSize * pixels);
      const labels = new Int32Array(batchSize);
      for (let b = 0; b < batchSize; b++) {
        if (cursor >= n) {
          shuffle(order, rng);
          cursor = 0;
        }
        const index = order[cursor++] as number;
        labels[b] = data.labels[index] as number;
        const sigma = rng.uniform() * maxNoiseStd;
        const source = data.images.subarray(index * pixels, (index + 1) * pixels);
        for (let p = 0; p < pixels; p++) {
          const value = (source[p] as number) + sigma * rng.normal();
          pixelsBatch[b * pixels + p] = value < -1 ? -1 : value > 1 ? 1 : value;
        }
      }
      const lr = (learningRate * (1 + Math.cos((Math.PI * step) / steps))) / 2;
      const images = tf.tensor4d(pixelsBatch, [batchSize, h, w, c]);
      const targets = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32')); // [B] -> [B, K]
      let statistics: BatchStatistics[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const out = oracle.forwardTraining(images); // [B, H, W, 3] -> [B, K]
        statistics = out.statistics;
        const logProbabilities = tf.logSoftmax(out.logits); // [B, K]
        return tf.neg(tf.mean(tf.sum(tf.mul(targets, logProbabilities), 1))) as tf.Scalar; // [B, K] -> []
      }, oracle.trainableVariables());
      try {
        optimizer.step(grads, lr);
        oracle.updateRunningStatistics(statistics);
        losses[step] = (await value.data())[0] as number;
      } finally {
        tf.dispose([images, targets, value, ...Object.values(grads)]);
        for (const s of statistics) tf.dispose([s.mean, s.variance]);
      }
      reportProgress(options.onProgress, { stage: 'train.oracle', step: step + 1, total: steps, metrics: { loss: losses[step] as number, lr } });
    }
  } catch (error) {
    if (options.oracle === undefined) oracle.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
  return { oracle, losses };
}

/** Fisher–Yates shuffle in place. */
function shuffle(values: Int32Array, rng: Rng): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = values[i] as number;
    values[i] = values[j] as number;
    values[j] = t;
  }
}

function checkInteger(option: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new InvalidOptionError({ option, expected: `an integer ≥ ${min}`, received: value });
  return value;
}

function checkPositive(option: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidOptionError({ option, expected: 'a positive number', received: value });
  return value;
}
