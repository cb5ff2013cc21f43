/**
 * Adversarial Preservation's continuous search (methods.md §4; official `train_adversarial_pgd.py`):
 * normalized gradient ascent on the adversarial concept embedding c_a, no projection.
 *
 * Notation:
 *   c    [T, D]  the adversarial embedding c_a; starts at the erased embedding and is carried across calls
 *   f(c)         the caller's objective (the preserve loss), to be maximized              → `objective`
 *   g    [T, D]  ∇_c f(c)
 *   α            step size, 1e-5                                                            → `alpha`
 *   update       c ← c + α · g/‖g‖ · ‖c‖ (Frobenius norms over the whole tensor), `steps` times (100)
 * A zero gradient leaves c unchanged (‖g‖ is floored at 1e-30 in the division).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ensureGradients, releaseAbandonedTape } from '@erase/core';

/** Options of {@link pgdAscend} and {@link PgdConceptSearch}. */
export interface PgdOptions {
  /** α, relative step size. Default 1e-5. */
  alpha?: number;
  /** Ascent steps per call. Default 100. */
  steps?: number;
}

/** Result of {@link pgdAscend}. */
export interface PgdResult {
  /** c after the steps, float32, shaped like the start; owned by the caller. */
  readonly embedding: tf.Tensor;
  /** f(c) before each step (length `steps`), float64 from float32. */
  readonly objectives: Float64Array;
}

/** The defaults of methods.md §4. */
export const PGD_DEFAULTS: Readonly<Required<PgdOptions>> = Object.freeze({ alpha: 1e-5, steps: 100 });

/**
 * Runs `steps` normalized ascent steps c ← c + α·g/‖g‖·‖c‖ from `start`.
 * `objective` must be synchronous, return a scalar tensor built from c with tfjs ops, and not dispose c.
 *
 * @param start c_0, any shape (float32 after casting); not disposed.
 * @returns the final c (caller-owned) and the objective before each step.
 * @throws InvalidOptionError for bad options, an objective that returns no scalar, or a non-finite objective.
 */
export async function pgdAscend(
  start: tf.Tensor,
  objective: (conceptEmbedding: tf.Tensor) => tf.Scalar,
  options: PgdOptions = {},
): Promise<PgdResult> {
  const { alpha, steps } = resolvePgdOptions(options);
  await ensureGradients();
  const checkedObjective = (c: tf.Tensor): tf.Scalar => {
    const value = objective(c);
    if (!(value instanceof tf.Tensor) || value.rank !== 0) {
      throw new InvalidOptionError({ option: 'objective', expected: 'a function returning a scalar tf.Tensor', received: value });
    }
    return value;
  };
  const valueAndGrad = tf.valueAndGrad(checkedObjective);
  let c = tf.cast(start, 'float32'); // [T, D]
  const values: tf.Scalar[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const { value, grad } = valueAndGrad(c); // [], [T, D]
      values.push(value);
      const next = tf.tidy(() => {
        const gradNorm = tf.maximum(tf.norm(grad), 1e-30); // []
        const scale = tf.div(tf.mul(tf.norm(c), alpha), gradNorm); // [] α‖c‖/‖g‖
        return tf.add(c, tf.mul(grad, scale)); // [T, D] + [T, D]·[] -> [T, D]
      });
      grad.dispose();
      c.dispose();
      c = next;
    }
    const objectives = new Float64Array(steps);
    if (steps > 0) {
      const stacked = tf.stack(values); // [steps]
      objectives.set(await stacked.data());
      stacked.dispose();
    }
    const bad = objectives.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) {
      throw new InvalidOptionError({ option: 'objective', expected: 'finite values', received: `${objectives[bad]} at step ${bad}` });
    }
    return { embedding: c, objectives };
  } catch (error) {
    releaseAbandonedTape();
    c.dispose();
    throw error;
  } finally {
    for (const value of values) value.dispose();
  }
}

/**
 * The continuous search as a stateful object: c_a starts at the erased embedding and each `run()` carries
 * it `steps` ascent steps further. Owns its copy of c_a; call `dispose()` when done.
 */
export class PgdConceptSearch {
  private embedding: tf.Tensor;
  private readonly options: Required<PgdOptions>;
  private disposed = false;

  /**
   * @param start the erased embedding c_e, any shape (copied; not disposed).
   * @throws InvalidOptionError for bad options.
   */
  constructor(start: tf.Tensor, options: PgdOptions = {}) {
    this.options = resolvePgdOptions(options);
    this.embedding = tf.cast(start, 'float32'); // [T, D] (a new tensor even when start is float32)
  }

  /** Runs `steps` ascent steps on the current c_a; returns the objective before each step. */
  async run(objective: (conceptEmbedding: tf.Tensor) => tf.Scalar): Promise<Float64Array> {
    this.assertAlive();
    const result = await pgdAscend(this.embedding, objective, this.options);
    this.embedding.dispose();
    this.embedding = result.embedding;
    return result.objectives;
  }

  /** A copy of the current c_a (float32, the start's shape), owned by the caller. */
  current(): tf.Tensor {
    this.assertAlive();
    return tf.clone(this.embedding);
  }

  /** Frees c_a. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.embedding.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new InvalidOptionError({ option: 'search', expected: 'a search that has not been disposed', received: 'a disposed search' });
  }
}

function resolvePgdOptions(options: PgdOptions): Required<PgdOptions> {
  const alpha = options.alpha ?? PGD_DEFAULTS.alpha;
  const steps = options.steps ?? PGD_DEFAULTS.steps;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    throw new InvalidOptionError({ option: 'alpha', expected: 'a finite number > 0', received: alpha });
  }
  if (!Number.isSafeInteger(steps) || steps < 0) {
    throw new InvalidOptionError({ option: 'steps', expected: 'an integer >= 0', received: steps });
  }
  return { alpha, steps };
}
