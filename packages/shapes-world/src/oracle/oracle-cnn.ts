/**
 * The oracle: a small CNN that names the shape in a ShapesWorld image (the world's stand-in for a human judge or a
 * CLIP classifier when erasure is scored).
 *
 * Architecture (73,178 parameters, as the measured prototype): 3 stages × 2 blocks of conv 3×3 (stride 1, same
 * padding, with bias) → BatchNorm → ReLU, at 16 / 32 / 64 channels, a 2×2 max-pool between stages, global average
 * pool, linear → 10 logits. The convolutions use conv3x3.ts, whose gradient needs no Conv2DBackpropFilter kernel,
 * so the oracle trains on cpu and wasm alike.
 *
 * Notation (BatchNorm, Ioffe & Szegedy 2015; PyTorch `BatchNorm2d` semantics): for a block's activations
 * x ∈ ℝ^{B×H×W×C}, y = γ (x − μ) / √(σ² + ε) + β with ε = 1e-5. Training uses the batch statistics
 * μ_B = mean over (B, H, W), σ²_B the biased variance; the running statistics follow
 * μ_run ← (1 − m) μ_run + m μ_B and σ²_run ← (1 − m) σ²_run + m σ²_B · n / (n − 1) (n = B·H·W, m = 0.1) and are
 * used for inference.
 *
 * Weights are tfjs variables in tfjs layouts (conv [3, 3, in, out], linear [in, out]); on disk (oracle-weights.ts)
 * they use PyTorch names and layouts: `blocks.{i}.conv.weight` [out, in, 3, 3], `blocks.{i}.conv.bias`,
 * `blocks.{i}.norm.{weight,bias,running_mean,running_var}`, `head.weight` [10, 64], `head.bias`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ShapeMismatchError } from '@erase/core';
import { CLASS_NAMES } from '../world/vocabulary';
import { conv3x3 } from './conv3x3';

/** Output channels of the six conv blocks. */
export const ORACLE_CHANNELS: readonly number[] = [16, 16, 32, 32, 64, 64];
/** A 2×2 max-pool follows these blocks. */
const POOL_AFTER = new Set([1, 3]);
/** BatchNorm ε and momentum m. */
export const BATCH_NORM_EPSILON = 1e-5;
export const BATCH_NORM_MOMENTUM = 0.1;

/** Batch statistics of one BatchNorm in a training forward pass: float32 [C] each. */
export interface BatchStatistics {
  readonly mean: tf.Tensor1D;
  readonly variance: tf.Tensor1D;
  /** n = B·H·W, the number of values each statistic was taken over. */
  readonly count: number;
}

interface Block {
  readonly kernel: tf.Variable; // [3, 3, in, out]
  readonly bias: tf.Variable; // [out]
  readonly gamma: tf.Variable; // [out]
  readonly beta: tf.Variable; // [out]
  readonly runningMean: tf.Variable; // [out]
  readonly runningVar: tf.Variable; // [out]
}

/**
 * The oracle CNN. Create with `OracleClassifier.create({ seed })` (fresh weights) or load with `loadOracle`.
 * Structurally an `ImageClassifier` of `@erase/eval` (`classNames` + `classify`). Call `dispose()` when done.
 */
export class OracleClassifier {
  /** The 10 class words, in logit order. */
  readonly classNames: readonly string[] = CLASS_NAMES;
  private readonly blocks: Block[];
  private readonly headWeight: tf.Variable; // [64, 10]
  private readonly headBias: tf.Variable; // [10]

  private constructor(blocks: Block[], headWeight: tf.Variable, headBias: tf.Variable) {
    this.blocks = blocks;
    this.headWeight = headWeight;
    this.headBias = headBias;
  }

  /**
   * Fresh weights (PyTorch's default init: conv and linear weights and biases U(±1/√fan_in); γ = 1, β = 0;
   * running mean 0, variance 1), drawn from `Rng(seed)` so they are the same on every backend.
   */
  static create(options: { seed: number }): OracleClassifier {
    const rng = new Rng(options.seed);
    // unnamed variables: tfjs names must be unique process-wide, and several oracles may coexist
    const uniform = (shape: number[], fanIn: number): tf.Variable =>
      tf.tidy(() => tf.variable(rng.uniformTensor(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)), true));
    let inChannels = 3;
    const blocks = ORACLE_CHANNELS.map((out, i) => {
      const fanIn = inChannels * 9;
      const block: Block = {
        kernel: uniform([3, 3, inChannels, out], fanIn),
        bias: uniform([out], fanIn),
        gamma: tf.tidy(() => tf.variable(tf.ones([out]), true)),
        beta: tf.tidy(() => tf.variable(tf.zeros([out]), true)),
        runningMean: tf.tidy(() => tf.variable(tf.zeros([out]), false)),
        runningVar: tf.tidy(() => tf.variable(tf.ones([out]), false)),
      };
      inChannels = out;
      return block;
    });
    const classes = CLASS_NAMES.length;
    const headWeight = uniform([inChannels, classes], inChannels);
    const headBias = uniform([classes], inChannels);
    return new OracleClassifier(blocks, headWeight, headBias);
  }

  /**
   * Builds an oracle around existing variables (used by the weight loader). The oracle owns them afterwards.
   * @internal
   */
  static fromVariables(variables: ReadonlyMap<string, tf.Variable>): OracleClassifier {
    const get = (name: string): tf.Variable => variables.get(name) as tf.Variable;
    const blocks = ORACLE_CHANNELS.map((_, i) => ({
      kernel: get(`blocks.${i}.conv.weight`),
      bias: get(`blocks.${i}.conv.bias`),
      gamma: get(`blocks.${i}.norm.weight`),
      beta: get(`blocks.${i}.norm.bias`),
      runningMean: get(`blocks.${i}.norm.running_mean`),
      runningVar: get(`blocks.${i}.norm.running_var`),
    }));
    return new OracleClassifier(blocks, get('head.weight'), get('head.bias'));
  }

  /** Every tensor of the model by PyTorch name, in tfjs layouts (conv [3, 3, in, out], linear [in, out]). Owned by the model. */
  variables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    this.blocks.forEach((b, i) => {
      out.set(`blocks.${i}.conv.weight`, b.kernel);
      out.set(`blocks.${i}.conv.bias`, b.bias);
      out.set(`blocks.${i}.norm.weight`, b.gamma);
      out.set(`blocks.${i}.norm.bias`, b.beta);
      out.set(`blocks.${i}.norm.running_mean`, b.runningMean);
      out.set(`blocks.${i}.norm.running_var`, b.runningVar);
    });
    out.set('head.weight', this.headWeight);
    out.set('head.bias', this.headBias);
    return out;
  }

  /** The trainable variables (everything except the running statistics), for an optimizer. */
  trainableVariables(): tf.Variable[] {
    return [...this.blocks.flatMap((b) => [b.kernel, b.bias, b.gamma, b.beta]), this.headWeight, this.headBias];
  }

  /** Number of trainable parameters (73,178). */
  get parameterCount(): number {
    return this.trainableVariables().reduce((sum, v) => sum + v.size, 0);
  }

  /**
   * Logits. `images` float32 [B, H, W, 3] in [-1, 1] (H = W = 24 for the world; any H, W ≥ 4 works); not disposed.
   * @param options.training use batch statistics in BatchNorm instead of the running ones (no state changes).
   * @returns float32 [B, 10]; the caller owns it.
   * @throws ShapeMismatchError for input that is not float32 [B, H, W, 3] with B ≥ 1 and H, W ≥ 4.
   */
  forward(images: tf.Tensor4D, options: { training?: boolean } = {}): tf.Tensor2D {
    checkImages(images);
    return tf.tidy(() => this.run(images, options.training === true ? [] : undefined));
  }

  /**
   * A training-mode forward pass that also returns each BatchNorm's batch statistics (for `updateRunningStatistics`).
   * Meant to be called inside `tf.variableGrads`; every returned tensor is the caller's. `images` is not disposed.
   * @throws ShapeMismatchError as `forward`.
   */
  forwardTraining(images: tf.Tensor4D): { logits: tf.Tensor2D; statistics: BatchStatistics[] } {
    checkImages(images);
    const statistics: BatchStatistics[] = [];
    const logits = tf.tidy(() => {
      const out = this.run(images, statistics);
      for (const s of statistics) {
        tf.keep(s.mean);
        tf.keep(s.variance);
      }
      return out;
    });
    return { logits, statistics };
  }

  /**
   * Folds batch statistics into the running ones (PyTorch: momentum 0.1, unbiased variance). Statistics are not
   * disposed. @throws ShapeMismatchError when there is not one entry per BatchNorm.
   */
  updateRunningStatistics(statistics: readonly BatchStatistics[]): void {
    if (statistics.length !== this.blocks.length) {
      throw new ShapeMismatchError({ what: 'updateRunningStatistics statistics', expected: [this.blocks.length], received: [statistics.length] });
    }
    const m = BATCH_NORM_MOMENTUM;
    tf.tidy(() => {
      this.blocks.forEach((block, i) => {
        const s = statistics[i] as BatchStatistics;
        const unbiased = tf.mul(s.variance, s.count / Math.max(1, s.count - 1)); // [C]
        block.runningMean.assign(tf.add(tf.mul(block.runningMean, 1 - m), tf.mul(s.mean, m))); // [C]
        block.runningVar.assign(tf.add(tf.mul(block.runningVar, 1 - m), tf.mul(unbiased, m))); // [C]
      });
    });
  }

  /**
   * Class probabilities softmax(logits) with running statistics — `ImageClassifier.classify`.
   * `images` float32 [B, H, W, 3] in [-1, 1]; not disposed. @returns float32 [B, 10]; the caller owns it.
   * @throws ShapeMismatchError as `forward`.
   */
  classify(images: tf.Tensor4D): tf.Tensor2D {
    checkImages(images);
    return tf.tidy(() => tf.softmax(this.run(images, undefined))); // [B, 10] -> [B, 10]
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.variables().values()) v.dispose();
  }

  /** The network; `statistics` undefined → running statistics, else batch statistics appended to it. */
  private run(images: tf.Tensor4D, statistics: BatchStatistics[] | undefined): tf.Tensor2D {
    let x: tf.Tensor4D = images; // [B, H, W, 3]
    this.blocks.forEach((block, i) => {
      const conv = tf.add(conv3x3(x, block.kernel as tf.Tensor4D), block.bias) as tf.Tensor4D; // [B, H, W, Cin] -> [B, H, W, C]
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (statistics === undefined) {
        mean = block.runningMean;
        variance = block.runningVar;
      } else {
        const moments = tf.moments(conv, [0, 1, 2]); // [B, H, W, C] -> [C], [C]
        mean = moments.mean;
        variance = moments.variance;
        const [b, h, w] = conv.shape;
        statistics.push({ mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, count: b * h * w });
      }
      const scale = tf.mul(block.gamma, tf.rsqrt(tf.add(variance, BATCH_NORM_EPSILON))); // [C]
      const shift = tf.sub(block.beta, tf.mul(mean, scale)); // [C]
      x = tf.relu(tf.add(tf.mul(conv, scale), shift)) as tf.Tensor4D; // [B, H, W, C]
      if (POOL_AFTER.has(i)) x = tf.maxPool(x, 2, 2, 'valid'); // [B, H, W, C] -> [B, H/2, W/2, C]
    });
    const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D; // [B, H/4, W/4, 64] -> [B, 64]
    return tf.add(tf.matMul(pooled, this.headWeight as tf.Tensor2D), this.headBias); // [B, 64] x [64, 10] -> [B, 10]
  }
}

/**
 * The PyTorch (on-disk) shape of every tensor of the oracle, by name: conv [out, in, 3, 3], linear [10, 64],
 * everything else [C].
 */
export function oracleFileShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let inChannels = 3;
  ORACLE_CHANNELS.forEach((out, i) => {
    shapes.set(`blocks.${i}.conv.weight`, [out, inChannels, 3, 3]);
    for (const key of ['conv.bias', 'norm.weight', 'norm.bias', 'norm.running_mean', 'norm.running_var']) {
      shapes.set(`blocks.${i}.${key}`, [out]);
    }
    inChannels = out;
  });
  shapes.set('head.weight', [CLASS_NAMES.length, inChannels]);
  shapes.set('head.bias', [CLASS_NAMES.length]);
  return shapes;
}

function checkImages(images: tf.Tensor4D): void {
  const [b, h, w, c] = images.shape;
  if (images.rank !== 4 || c !== 3 || images.dtype !== 'float32' || b < 1 || h < 4 || w < 4) {
    throw new ShapeMismatchError({
      what: `OracleClassifier images (float32 NHWC with B ≥ 1 and H, W ≥ 4, found ${images.dtype})`,
      expected: [null, null, null, 3],
      received: images.shape,
    });
  }
}
