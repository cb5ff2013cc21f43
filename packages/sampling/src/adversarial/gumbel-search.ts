/**
 * Adversarial Preservation's discrete search for the adversarial concept c_a (methods.md §4; official
 * `train_adversarial_gumbel.py`): logits over C candidate words, c_a = GumbelSoftmax(logits, τ, hard) · E_vocab,
 * and one Adam step on the logits per call that *maximizes* the caller's preserve loss.
 *
 * Notation:
 *   C, F        candidates (numCenters, 100; 50 for nudity), flattened embedding size T·D
 *   E_vocab [C, F]  candidates' encoder outputs (the official `preserved_matrix`)      → `candidateEmbeddings`
 *   π       [1, C]  logits, initialised uniform to 1/C (the official `one_hot`)       → `logits`
 *   y       [1, C]  GumbelSoftmax(π, τ = 2, hard = true)
 *   c_a     [T, D]  reshape(y · E_vocab)                                               (what `lossOf` receives)
 *   L_pres(c_a)     the caller's preserve loss; Adam(lr 1e-2) on −L_pres (ascent on L_pres)
 * The model update in between (Adam lr 1e-5 on the UNet) is the caller's; `sample()` gives it a c_a.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, Rng, ShapeMismatchError, ensureGradients, releaseAbandonedTape } from '@erase/core';
import { gumbelSoftmaxWithNoise, sampleGumbelNoise } from './gumbel-softmax';

/** Options of {@link GumbelConceptSearch}. */
export interface GumbelConceptSearchOptions {
  /** Gumbel-Softmax temperature τ. Default 2. */
  tau?: number;
  /** Straight-through hard samples. Default true. */
  hard?: boolean;
  /** Adam learning rate on the logits. Default 1e-2. */
  learningRate?: number;
  /** Seed of the Gumbel noise stream (default 0); ignored when `rng` is given. */
  seed?: number;
  /** A noise stream to draw from (it advances). */
  rng?: Rng;
  /** Vocabulary index of each candidate row (e.g. from `reduceCandidates`); default 0..C−1. */
  candidateIndices?: readonly number[];
}

/** Result of one {@link GumbelConceptSearch.step}. */
export interface GumbelSearchStep {
  /** L_pres(c_a) at the sample used for the step (before the update). */
  readonly loss: number;
  /** Row (0..C−1) of the sampled candidate: argmax of the sample. */
  readonly candidate: number;
  /** Its vocabulary index. */
  readonly index: number;
}

/**
 * The discrete adversarial-concept search. Owns its logits, optimizer state and a reshaped view of the
 * candidate embeddings; call `dispose()` when done. The caller's tensors are never disposed.
 */
export class GumbelConceptSearch {
  /** C. */
  readonly numCandidates: number;
  /** Shape of c_a: the candidate embeddings' shape without its first axis. */
  readonly embeddingShape: readonly number[];
  /** Vocabulary index of each candidate row. */
  readonly candidateIndices: readonly number[];
  private readonly tau: number;
  private readonly hard: boolean;
  private readonly rng: Rng;
  private readonly candidates: tf.Tensor2D; // [C, F]
  private readonly logits: tf.Variable; // [1, C]
  private readonly optimizer: tf.AdamOptimizer;
  private hostLogits: Float64Array; // [C]
  private disposed = false;

  /**
   * @param candidateEmbeddings E_vocab, [C, T, D] or [C, F] (C ≥ 1); read-only, kept alive through a view.
   * @throws ShapeMismatchError for rank < 2 or C = 0; InvalidOptionError for a bad option.
   */
  constructor(candidateEmbeddings: tf.Tensor, options: GumbelConceptSearchOptions = {}) {
    if (candidateEmbeddings.rank < 2 || candidateEmbeddings.shape[0] === 0 || candidateEmbeddings.size === 0) {
      throw new ShapeMismatchError({ what: 'candidate embeddings [C, T, D] or [C, F]', expected: [null, null], received: candidateEmbeddings.shape });
    }
    const c = candidateEmbeddings.shape[0] as number;
    this.numCandidates = c;
    this.embeddingShape = candidateEmbeddings.shape.slice(1);
    this.tau = options.tau ?? 2;
    if (!Number.isFinite(this.tau) || this.tau <= 0) throw new InvalidOptionError({ option: 'tau', expected: 'a finite number > 0', received: this.tau });
    this.hard = options.hard ?? true;
    if (typeof this.hard !== 'boolean') throw new InvalidOptionError({ option: 'hard', expected: 'a boolean', received: this.hard });
    const learningRate = options.learningRate ?? 1e-2;
    if (!Number.isFinite(learningRate) || learningRate <= 0) {
      throw new InvalidOptionError({ option: 'learningRate', expected: 'a finite number > 0', received: learningRate });
    }
    const indices = options.candidateIndices ?? Array.from({ length: c }, (_, i) => i);
    if (indices.length !== c || indices.some((i) => !Number.isSafeInteger(i) || i < 0)) {
      throw new InvalidOptionError({ option: 'candidateIndices', expected: `${c} non-negative integers (one per candidate row)`, received: indices });
    }
    this.candidateIndices = [...indices];
    this.rng = options.rng ?? new Rng(options.seed ?? 0);
    const width = candidateEmbeddings.size / c; // F
    this.candidates = tf.tidy(() => tf.cast(tf.reshape(candidateEmbeddings, [c, width]), 'float32')); // [C, T, D] -> [C, F]
    this.hostLogits = new Float64Array(c).fill(1 / c);
    const initial = tf.fill([1, c], 1 / c); // [1, C]
    this.logits = tf.variable(initial, true, undefined, 'float32'); // [1, C]
    initial.dispose();
    this.optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-8);
  }

  /**
   * One Adam step on the logits that maximizes `lossOf(c_a)`, with c_a from a fresh Gumbel sample.
   * `lossOf` must be synchronous, build its scalar from c_a with tfjs ops and not dispose c_a. When it
   * throws, the tensors tfjs saved for the backward pass are released and the logits are left unchanged.
   * @throws InvalidOptionError when `lossOf` returns something other than a scalar tensor; whatever it throws.
   */
  async step(lossOf: (conceptEmbedding: tf.Tensor) => tf.Scalar): Promise<GumbelSearchStep> {
    this.assertAlive();
    await ensureGradients();
    const noise = tf.tensor(sampleGumbelNoise(this.numCandidates, this.rng), [1, this.numCandidates], 'float32'); // [1, C]
    let sampled: tf.Tensor | undefined;
    let cost: tf.Scalar | null = null;
    let grads: tf.NamedTensorMap | undefined;
    try {
      // gradients first, the update only for a finite loss and gradient: a NaN would otherwise poison the logits
      // (and Adam's moments) for good, and every later distribution/sample with them
      ({ value: cost, grads } = this.optimizer.computeGradients(
        () => {
          const y = gumbelSoftmaxWithNoise(this.logits, noise, this.tau, this.hard); // [1, C]
          sampled = tf.keep(tf.argMax(y, 1)); // [1]
          const conceptEmbedding = tf.reshape(tf.matMul(y, this.candidates), this.embeddingShape as number[]); // [1, C] x [C, F] -> [1, F] -> [T, D]
          const loss = lossOf(conceptEmbedding);
          if (!(loss instanceof tf.Tensor) || loss.rank !== 0) {
            throw new InvalidOptionError({ option: 'lossOf', expected: 'a function returning a scalar tf.Tensor', received: loss });
          }
          return tf.neg(loss); // ascent on L_pres
        },
        [this.logits],
      ));
      const negativeLoss = (await (cost as tf.Scalar).data())[0] as number;
      const gradient = (await (Object.values(grads)[0] as tf.Tensor).data()) as Float32Array; // [1, C]
      if (!Number.isFinite(negativeLoss) || !gradient.every(Number.isFinite)) {
        throw new InvalidOptionError({
          option: 'lossOf',
          expected: 'a loss with a finite value and gradient for the sampled concept',
          received: Number.isFinite(negativeLoss) ? 'a non-finite gradient' : -negativeLoss,
        });
      }
      this.optimizer.applyGradients(grads as Parameters<tf.AdamOptimizer["applyGradients"]>[0]);
      const candidate = (await (sampled as tf.Tensor).data())[0] as number;
      this.hostLogits = Float64Array.from(await this.logits.data());
      return { loss: -negativeLoss, candidate, index: this.candidateIndices[candidate] as number };
    } catch (error) {
      releaseAbandonedTape();
      throw error;
    } finally {
      noise.dispose();
      sampled?.dispose();
      cost?.dispose();
      if (grads) tf.dispose(grads);
    }
  }

  /**
   * A fresh sample c_a = reshape(GumbelSoftmax(π) · E_vocab) for the model update (no gradient to the logits).
   * @returns the embedding (float32, `embeddingShape`, owned by the caller) and the sampled candidate.
   */
  async sample(): Promise<{ embedding: tf.Tensor; candidate: number; index: number }> {
    this.assertAlive();
    const noiseValues = sampleGumbelNoise(this.numCandidates, this.rng);
    const [embedding, argmax] = tf.tidy((): tf.Tensor[] => {
      const noise = tf.tensor(noiseValues, [1, this.numCandidates], 'float32'); // [1, C]
      const y = gumbelSoftmaxWithNoise(this.logits, noise, this.tau, this.hard); // [1, C]
      const ca = tf.reshape(tf.matMul(y, this.candidates), this.embeddingShape as number[]); // [1, C] x [C, F] -> [T, D]
      return [ca, tf.argMax(y, 1)]; // [T, D], [1]
    }) as [tf.Tensor, tf.Tensor];
    const candidate = (await argmax.data())[0] as number;
    argmax.dispose();
    return { embedding, candidate, index: this.candidateIndices[candidate] as number };
  }

  /** Row of the most likely candidate (argmax of the logits; ties → lowest row). */
  bestCandidate(): number {
    let best = 0;
    for (let i = 1; i < this.hostLogits.length; i++) if ((this.hostLogits[i] as number) > (this.hostLogits[best] as number)) best = i;
    return best;
  }

  /** Vocabulary index of the most likely candidate. */
  bestIndex(): number {
    return this.candidateIndices[this.bestCandidate()] as number;
  }

  /** Embedding of the most likely candidate, float32 `embeddingShape`, owned by the caller. */
  bestEmbedding(): tf.Tensor {
    this.assertAlive();
    const best = this.bestCandidate();
    return tf.tidy(() => tf.reshape(tf.slice(this.candidates, [best, 0], [1, -1]), this.embeddingShape as number[])); // [1, F] -> [T, D]
  }

  /** softmax(π) in float64, [C] (host copy). */
  distribution(): Float64Array {
    let max = -Infinity;
    for (const value of this.hostLogits) max = Math.max(max, value);
    const out = Float64Array.from(this.hostLogits, (value) => Math.exp(value - max));
    const total = out.reduce((a, b) => a + b, 0);
    return out.map((value) => value / total);
  }

  /** The logits π, [C] (host copy). */
  logitValues(): Float64Array {
    return Float64Array.from(this.hostLogits);
  }

  /** Frees the logits, the optimizer's moments and the reshaped candidates. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    this.logits.dispose();
    this.candidates.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new InvalidOptionError({ option: 'search', expected: 'a search that has not been disposed', received: 'a disposed search' });
  }
}
