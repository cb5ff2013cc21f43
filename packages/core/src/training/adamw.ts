/**
 * AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2), with PyTorch's
 * `torch.optim.AdamW` conventions; tfjs-core has Adam but no decoupled weight decay.
 *
 * Notation, per parameter θ with gradient g at step t (from 1), learning rate η, decay λ:
 *   θ ← θ − η λ θ
 *   m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
 *   θ ← θ − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '../errors/errors';

/** Hyper-parameters (defaults: PyTorch's, except the learning rate, which each caller sets per step). */
export interface AdamWOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** λ (default 0.01). */
  readonly weightDecay?: number;
}

/** AdamW over a fixed list of variables. Holds its moment tensors; call `dispose()` when done. */
export class AdamW {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly state: Map<string, { variable: tf.Variable; m: tf.Variable; v: tf.Variable }>;
  private t = 0;

  /** Updates done so far (t of the bias corrections). */
  get stepCount(): number {
    return this.t;
  }

  /** @throws InvalidOptionError for hyper-parameters out of range. */
  constructor(variables: readonly tf.Variable[], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    for (const [option, value] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(value >= 0 && value < 1)) throw new InvalidOptionError({ option, expected: 'a number in [0, 1)', received: value });
    }
    if (!(this.epsilon > 0)) throw new InvalidOptionError({ option: 'epsilon', expected: 'a positive number', received: this.epsilon });
    if (!(this.weightDecay >= 0)) throw new InvalidOptionError({ option: 'weightDecay', expected: 'a non-negative number', received: this.weightDecay });
    this.state = new Map(
      variables.map((variable) => [
        variable.name,
        { variable, m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)), v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)) },
      ]),
    );
  }

  /**
   * One update with learning rate η. `gradients` maps variable names to gradients (as `tf.variableGrads` returns);
   * variables without a gradient are left alone. Gradients are not disposed.
   * @throws InvalidOptionError for a learning rate that is not a finite non-negative number.
   */
  step(gradients: tf.NamedTensorMap, learningRate: number): void {
    if (!(Number.isFinite(learningRate) && learningRate >= 0)) {
      throw new InvalidOptionError({ option: 'learningRate', expected: 'a finite non-negative number', received: learningRate });
    }
    this.t += 1;
    const correction1 = 1 - this.beta1 ** this.t;
    const correction2 = 1 - this.beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, { variable, m, v }] of this.state) {
        const g = gradients[name];
        if (g === undefined) continue;
        // every tensor here has θ's shape
        const decayed = tf.mul(variable, 1 - learningRate * this.weightDecay); // θ (1 − ηλ)
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1))); // β₁ m + (1 − β₁) g
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2))); // β₂ v + (1 − β₂) g²
        const denominator = tf.add(tf.sqrt(tf.div(v, correction2)), this.epsilon); // √v̂ + ε
        variable.assign(tf.sub(decayed, tf.mul(tf.div(m, denominator), learningRate / correction1))); // θ(1 − ηλ) − η m̂ / (√v̂ + ε)
      }
    });
  }

  /**
   * The moment estimates, keyed by variable name (owned by the optimizer: read them, do not dispose them), e.g. to
   * checkpoint them with `stepCount`.
   */
  moments(): ReadonlyMap<string, { readonly m: tf.Variable; readonly v: tf.Variable }> {
    return new Map([...this.state].map(([name, { m, v }]) => [name, { m, v }]));
  }

  /**
   * Restores a checkpointed state: the step count and, for every variable, its moments (host float32 arrays of the
   * variable's size, in the variable's layout).
   * @throws InvalidOptionError for a bad step count, a missing variable or a size mismatch (nothing is changed then)
   */
  loadState(stepCount: number, moments: ReadonlyMap<string, { readonly m: Float32Array; readonly v: Float32Array }>): void {
    if (!Number.isSafeInteger(stepCount) || stepCount < 0) {
      throw new InvalidOptionError({ option: 'stepCount', expected: 'a non-negative integer', received: stepCount });
    }
    for (const [name, { variable }] of this.state) {
      const saved = moments.get(name);
      if (saved === undefined || saved.m.length !== variable.size || saved.v.length !== variable.size) {
        throw new InvalidOptionError({ option: `moments["${name}"]`, expected: `m and v of ${variable.size} values`, received: saved === undefined ? 'missing' : `${saved.m.length} / ${saved.v.length} values` });
      }
    }
    for (const [name, { variable, m, v }] of this.state) {
      const saved = moments.get(name) as { m: Float32Array; v: Float32Array };
      tf.tidy(() => {
        m.assign(tf.tensor(saved.m, variable.shape, 'float32'));
        v.assign(tf.tensor(saved.v, variable.shape, 'float32'));
      });
    }
    this.t = stepCount;
  }

  /** Frees the moment estimates (not the variables being optimised). */
  dispose(): void {
    for (const { m, v } of this.state.values()) {
      m.dispose();
      v.dispose();
    }
  }
}
