/**
 * Gumbel-Softmax with a straight-through estimator (Jang et al. 2017), as Adversarial Preservation's
 * discrete search uses it (methods.md §4; official `train_adversarial_gumbel.py::gumbel_softmax`).
 *
 * Notation:
 *   C          number of candidates (last axis)
 *   π   [.., C]  logits                                                  → `logits`
 *   u   [.., C]  u ~ U[0, 1) from `Rng`
 *   g   [.., C]  g = −log(−log(u + ε) + ε), ε = 1e-10 (as the official code)  → `noise`
 *   τ          temperature (2 in AP)                                       → `tau`
 *   y   [.., C]  y = softmax((π + g)/τ)                                    (the soft sample)
 *   hard       forward value one_hot(argmax y); backward ∂y/∂π (straight through: torch's
 *              `(y_hard − y).detach() + y`), written with `tf.customGrad` since tfjs has no stop-gradient.
 *   c_a  [F]   = y · E_vocab (a candidate's embedding when hard) — formed by the search, not here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError, type Rng } from '@erase/core';

const EPSILON = 1e-10;

/**
 * `size` Gumbel(0, 1) draws g = −log(−log(u + 1e-10) + 1e-10), u ~ U[0, 1) from `rng` (float64 math,
 * rounded to float32). Host array; deterministic for a given stream.
 */
export function sampleGumbelNoise(size: number, rng: Rng): Float32Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvalidOptionError({ option: 'size', expected: 'an integer >= 0', received: size });
  }
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = -Math.log(-Math.log(rng.uniform() + EPSILON) + EPSILON);
  return out;
}

/**
 * A Gumbel-Softmax sample of `logits` along the last axis, with noise drawn from `rng`.
 *
 * @param logits π, float32 [..., C] (rank ≥ 1).
 * @param tau τ > 0.
 * @param hard forward one-hot of argmax((π + g)/τ) with the soft sample's gradient (straight through),
 *   or the soft sample itself.
 * @param rng advances by π.size uniforms.
 * @returns float32 [..., C], owned by the caller; differentiable with respect to `logits`.
 * @throws InvalidOptionError for a bad tau, hard or rng; ShapeMismatchError for rank-0 or empty logits.
 */
export function gumbelSoftmax(logits: tf.Tensor, tau: number, hard: boolean, rng: Rng): tf.Tensor {
  checkLogits(logits);
  if (rng === null || typeof rng !== 'object' || typeof (rng as Partial<Rng>).uniform !== 'function') {
    throw new InvalidOptionError({ option: 'rng', expected: 'an Rng from @erase/core', received: rng });
  }
  const noiseValues = sampleGumbelNoise(logits.size, rng);
  return tf.tidy(() => {
    const noise = tf.tensor(noiseValues, logits.shape, 'float32'); // [..., C]
    return gumbelSoftmaxWithNoise(logits, noise, tau, hard); // [..., C]
  });
}

/**
 * {@link gumbelSoftmax} with given noise g (same shape as `logits`): reproducible relaxations, e.g. to
 * compare the straight-through gradient with finite differences of the soft sample at fixed noise.
 * @returns float32 [..., C], owned by the caller.
 * @throws InvalidOptionError for a bad tau or hard; ShapeMismatchError when the shapes differ.
 */
export function gumbelSoftmaxWithNoise(logits: tf.Tensor, noise: tf.Tensor, tau: number, hard: boolean): tf.Tensor {
  checkLogits(logits);
  if (typeof tau !== 'number' || !Number.isFinite(tau) || tau <= 0) {
    throw new InvalidOptionError({ option: 'tau', expected: 'a finite number > 0', received: tau });
  }
  if (typeof hard !== 'boolean') throw new InvalidOptionError({ option: 'hard', expected: 'a boolean', received: hard });
  if (!tf.util.arraysEqual(noise.shape, logits.shape)) {
    throw new ShapeMismatchError({ what: 'Gumbel noise (shaped like the logits)', expected: logits.shape, received: noise.shape });
  }
  return tf.tidy(() => {
    const scaled = tf.div(tf.add(tf.cast(logits, 'float32'), noise), tau); // [..., C] (π + g)/τ
    return hard ? straightThrough(scaled) : tf.softmax(scaled); // [..., C]
  });
}

/** Forward: one_hot(argmax softmax(z)); backward: the vector-Jacobian product of softmax(z). */
const straightThrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const z = args[0] as tf.Tensor; // [..., C] (π + g)/τ
  const save = args[1] as tf.GradSaveFunc;
  const classes = z.shape[z.shape.length - 1] as number; // C
  const soft = tf.softmax(z); // [..., C]
  save([soft]);
  const index = tf.argMax(soft, -1); // [...]
  const value = tf.reshape(tf.cast(tf.oneHot(tf.reshape(index, [-1]), classes), 'float32'), z.shape); // [B, C] -> [..., C]
  return {
    value,
    // ∂softmax: dz = y ⊙ (dy − Σ_c dy_c y_c)
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const y = saved[0] as tf.Tensor; // [..., C]
      return tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), -1, true))); // [..., C]
    },
  };
});

function checkLogits(logits: tf.Tensor): void {
  if (typeof logits !== 'object' || logits === null || !Array.isArray((logits as { shape?: unknown }).shape)) {
    throw new InvalidOptionError({ option: 'logits', expected: 'a tf.Tensor [..., C]', received: logits });
  }
  if (logits.rank < 1 || logits.size < 1) {
    throw new ShapeMismatchError({ what: 'Gumbel-Softmax logits', expected: [null], received: logits.shape });
  }
}
