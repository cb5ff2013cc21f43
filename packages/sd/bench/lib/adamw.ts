/**
 * AdamW (Loshchilov & Hutter 2019, Algorithm 2) with `torch.optim.AdamW`'s conventions, for the training-step
 * benchmark (tfjs-core has Adam but no decoupled weight decay; `@erase/shapes-world` has the library version, which
 * `@erase/sd` cannot import). Same arithmetic per parameter, so the step's optimizer share compares with PyTorch's.
 *
 * Notation, per parameter θ with gradient g at step t (from 1), learning rate η, decay λ:
 *   θ ← θ − η λ θ;   m ← β₁ m + (1 − β₁) g;   v ← β₂ v + (1 − β₂) g²
 *   θ ← θ − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 */
import * as tf from '@tensorflow/tfjs-core';

/** AdamW over a fixed list of variables (β₁ 0.9, β₂ 0.999, ε 1e-8). Call `dispose()` to free its moments. */
export class BenchAdamW {
  private readonly slots: { variable: tf.Variable; m: tf.Variable; v: tf.Variable }[];
  private t = 0;

  constructor(variables: readonly tf.Variable[], private readonly lr = 1e-3, private readonly weightDecay = 0.01) {
    this.slots = variables.map((variable) => ({
      variable,
      m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
    }));
  }

  /** One update from `grads` (keyed by variable name, as `tf.variableGrads` returns them; not disposed). */
  step(grads: tf.NamedTensorMap): void {
    this.t += 1;
    const c1 = 1 - 0.9 ** this.t;
    const c2 = 1 - 0.999 ** this.t;
    tf.tidy(() => {
      for (const { variable, m, v } of this.slots) {
        const g = grads[variable.name];
        if (g === undefined) continue;
        m.assign(tf.add(tf.mul(m, 0.9), tf.mul(g, 0.1))); // β₁ m + (1 − β₁) g
        v.assign(tf.add(tf.mul(v, 0.999), tf.mul(tf.square(g), 0.001))); // β₂ v + (1 − β₂) g²
        const update = tf.div(m, tf.add(tf.sqrt(tf.div(v, c2)), 1e-8)); // m / (√v̂ + ε)
        variable.assign(tf.sub(tf.mul(variable, 1 - this.lr * this.weightDecay), tf.mul(update, this.lr / c1))); // θ(1 − ηλ) − η m̂ / (√v̂ + ε)
      }
    });
  }

  dispose(): void {
    for (const { m, v } of this.slots) tf.dispose([m, v]);
  }
}
