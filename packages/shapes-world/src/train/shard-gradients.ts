/**
 * One step's data and the gradient of the ε-MSE on a contiguous shard of it — the piece that the main thread and
 * each gradient worker (gradient-worker.ts) run, so that a data-parallel step computes exactly what a one-thread
 * step computes, shard by shard.
 *
 * Notation (train-shapes-world.ts): a batch of B images split into S contiguous shards of sizes n_s (Σ n_s = B);
 *   L_s = mean over shard s of (ε_θ(x_t, t, E_φ(c)) − ε)²,   L = Σ_s (n_s / B) L_s,   ∇L = Σ_s (n_s / B) ∇L_s
 * With S = 1 this is the one-thread step bit for bit (no weighting is applied).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@erase/core';
import type { CLIPTextModel, CLIPTokenizer, DDPMScheduler, UNet2DConditionModel } from '@erase/sd';
import type { PixelUnshuffleCodec } from '../codec/pixel-unshuffle';
import { generateShapes } from '../generator/generate';

/** One step's (or one shard's) host-side inputs. */
export interface StepBatch {
  /** float32 [B, N, N, 3] images in [-1, 1]. */
  readonly images: Float32Array;
  /** int32 [B, T] token ids. */
  readonly ids: Int32Array;
  /** [B] integer timesteps. */
  readonly timesteps: number[];
  /** float32 [B, N/2, N/2, 12] noise. */
  readonly noise: Float32Array;
  readonly batchSize: number;
  readonly imageSize: number;
}

/** What `drawBatch` needs of the run's settings. */
export interface BatchSettings {
  readonly seed: number;
  readonly batchSize: number;
  readonly emptyCaptionProbability: number;
}

/** Everything step k needs, from its own stream Rng(seed · 2²¹ + k). */
export function drawBatch(settings: BatchSettings, step: number, imageSize: number, tokenizer: CLIPTokenizer, tokens: number): StepBatch {
  const b = settings.batchSize;
  const rng = new Rng(settings.seed * 2 ** 21 + step);
  const shapes = generateShapes({ count: b, seed: rng.nextUint32(), size: imageSize });
  const captions = shapes.captions.map((caption) => (rng.uniform() < settings.emptyCaptionProbability ? '' : caption));
  const tokenized = tokenizer.call(captions, { padding: 'max_length', maxLength: tokens, truncation: true });
  const ids = new Int32Array(b * tokens);
  tokenized.inputIds.forEach((row, i) => ids.set(row, i * tokens));
  const timesteps = Array.from({ length: b }, () => rng.int(1000));
  const latentSize = (imageSize / 2) * (imageSize / 2) * 12;
  const noise = new Float32Array(b * latentSize);
  for (let i = 0; i < noise.length; i++) noise[i] = rng.normal();
  return { images: shapes.images, ids, timesteps, noise, batchSize: b, imageSize };
}

/** Sizes of S contiguous shards of a batch of B: the first B mod S shards get one more. */
export function shardSizes(batchSize: number, shards: number): number[] {
  const base = Math.floor(batchSize / shards);
  return Array.from({ length: shards }, (_, s) => base + (s < batchSize % shards ? 1 : 0));
}

/** Rows [start, start + count) of a batch (copies, so that they can be transferred to a worker). */
export function sliceBatch(batch: StepBatch, start: number, count: number): StepBatch {
  const n = batch.imageSize;
  const image = n * n * 3;
  const tokens = batch.ids.length / batch.batchSize;
  const latent = (n / 2) * (n / 2) * 12;
  return {
    images: batch.images.slice(start * image, (start + count) * image),
    ids: batch.ids.slice(start * tokens, (start + count) * tokens),
    timesteps: batch.timesteps.slice(start, start + count),
    noise: batch.noise.slice(start * latent, (start + count) * latent),
    batchSize: count,
    imageSize: n,
  };
}

/** The models and fixed pieces a shard's gradient needs. */
export interface ShardModels {
  readonly textEncoder: CLIPTextModel;
  readonly unet: UNet2DConditionModel;
  readonly codec: PixelUnshuffleCodec;
  readonly scheduler: DDPMScheduler;
  /** true: the encoder is frozen and runs outside the tape. */
  readonly frozenText: boolean;
}

/**
 * L_s and ∇L_s over `variables` for one shard. The caller owns (disposes) `value` and every gradient.
 * @returns `grads` keyed by each variable's tfjs name
 */
export function shardGradients(models: ShardModels, batch: StepBatch, variables: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const { batchSize: b, imageSize: n } = batch;
  const h = n / 2;
  const inputs = tf.tidy(() => {
    const x0 = models.codec.encode(tf.tensor4d(batch.images, [b, n, n, 3])); // [B, N, N, 3] -> [B, N/2, N/2, 12]
    const noise = tf.tensor4d(batch.noise, [b, h, h, 12]); // ε [B, h, h, 12]
    const noisy = models.scheduler.addNoise(x0, noise, batch.timesteps) as tf.Tensor4D; // √ᾱ_t x₀ + √(1−ᾱ_t) ε
    const t = tf.tensor1d(batch.timesteps, 'float32'); // [B]
    const ids = tf.tensor2d(batch.ids, [b, batch.ids.length / b], 'int32'); // [B, T]
    // a frozen encoder runs outside the tape (no backward through it)
    const frozenContext = models.frozenText ? models.textEncoder.encode(ids, { validateIds: false }) : undefined; // [B, T] -> [B, T, D]
    return { noise, noisy, t, ids, frozenContext };
  });
  try {
    return tf.variableGrads(() => {
      const context = inputs.frozenContext ?? models.textEncoder.encode(inputs.ids, { validateIds: false }); // [B, T] -> [B, T, D]
      const predicted = models.unet.predict(inputs.noisy, inputs.t, context); // [B, h, h, 12]
      return tf.mean(tf.squaredDifference(predicted, inputs.noise)) as tf.Scalar; // [B, h, h, 12] -> []
    }, variables);
  } finally {
    tf.dispose([inputs.noise, inputs.noisy, inputs.t, inputs.ids, ...(inputs.frozenContext ? [inputs.frozenContext] : [])]);
  }
}
