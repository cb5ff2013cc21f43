/**
 * The frozen original model of fine-tuning methods (ESD, Adversarial Preservation, …) without a second copy of the
 * model: a snapshot of the original values of the parameters being trained, swapped in for one frozen evaluation
 * and swapped out again (also when that evaluation throws).
 *
 * Notation: θ = the original values of the trained parameters (the snapshot), θ' = their current values (being
 * trained); every other parameter is shared by the two models, so ε_θ(x) = ε_{θ'}(x) with θ' swapped for θ.
 *
 * Memory: tfjs tensors are immutable and `Variable.assign` only re-points the variable at the assigned tensor's
 * data; each optimizer step gives the variables new buffers and the snapshot keeps the old ones alive — one extra
 * copy of the *trained* parameters (the official scripts keep a whole second model). `tf.clone` shares the buffer
 * on the cpu backend (zero-copy snapshot and swaps); the wasm backend's Identity kernel copies, so there each swap
 * holds one transient copy of the trained parameters' current values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';

/**
 * Original values of a set of `tf.Variable`s (keyed by parameter name), with swap-in evaluation and restore.
 * Owns its snapshot tensors: call `dispose()` when done. The variables stay the model's.
 */
export class ParameterSnapshot {
  /** Parameter names, in the order given. */
  readonly names: readonly string[];
  private readonly variables: readonly tf.Variable[];
  private readonly originals: tf.Tensor[];
  private disposed = false;

  /**
   * Snapshots the current values of `names` from `parameters` (clones; the variables are not changed).
   * @throws InvalidOptionError (`parameters`) when a name is not among the parameters.
   */
  constructor(parameters: ReadonlyMap<string, tf.Variable>, names: readonly string[]) {
    const variables: tf.Variable[] = [];
    for (const name of names) {
      const variable = parameters.get(name);
      if (!variable) throw new InvalidOptionError({ option: 'parameters', expected: 'names of the model’s parameters', received: name });
      variables.push(variable);
    }
    this.names = [...names];
    this.variables = variables;
    this.originals = variables.map((v) => tf.clone(v)); // θ, each the variable's shape
  }

  /** The trained variables, in the order of `names`. */
  get trainedVariables(): readonly tf.Variable[] {
    return this.variables;
  }

  /**
   * Runs `evaluate` with the original values θ in place of θ', then puts θ' back (also when `evaluate` throws).
   * `evaluate` must be synchronous and must not train or assign the variables. Returns what it returns.
   */
  withOriginal<T>(evaluate: () => T): T {
    this.assertAlive();
    const current = this.variables.map((v) => tf.clone(v)); // θ' (keeps their buffers alive while θ is in place)
    try {
      this.variables.forEach((v, i) => v.assign(this.originals[i] as tf.Tensor));
      return evaluate();
    } finally {
      this.variables.forEach((v, i) => v.assign(current[i] as tf.Tensor));
      tf.dispose(current);
    }
  }

  /** Writes θ back into the variables for good (used on error or abort). */
  restore(): void {
    this.assertAlive();
    this.variables.forEach((v, i) => v.assign(this.originals[i] as tf.Tensor));
  }

  /** Frees the snapshot (never the variables). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(this.originals);
  }

  private assertAlive(): void {
    if (this.disposed) throw new InvalidOptionError({ option: 'snapshot', expected: 'a snapshot that has not been disposed', received: 'a disposed snapshot' });
  }
}

/**
 * Sets `trainable` on the named variables and returns a function that puts every flag back as it was.
 * @throws InvalidOptionError (`parameters`) for a name that is not among the parameters.
 */
export function setTrainable(parameters: ReadonlyMap<string, tf.Variable>, names: readonly string[]): () => void {
  const previous = new Map<tf.Variable, boolean>();
  for (const name of names) {
    const variable = parameters.get(name);
    if (!variable) throw new InvalidOptionError({ option: 'parameters', expected: 'names of the model’s parameters', received: name });
    previous.set(variable, variable.trainable);
  }
  for (const variable of previous.keys()) variable.trainable = true;
  return () => {
    for (const [variable, flag] of previous) variable.trainable = flag;
  };
}
