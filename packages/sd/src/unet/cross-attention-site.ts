/**
 * A cross-attention module (`…attn2`) as core's `CrossAttentionSite`: the place closed-form editors (UCE, TIME,
 * RealEra's closed form) rewrite the key/value projections W_k, W_v [out, in] (out = inner dim, in = context dim D).
 * The model stores them tfjs-style as Wᵀ [in, out]; this view transposes on read and write.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import type { CrossAttentionSite, ProjectionName } from '@erase/core';

/** A view on one `attn2` of a model's variables. */
export class UNetCrossAttentionSite implements CrossAttentionSite {
  readonly path: string;
  readonly heads: number;
  readonly innerDim: number;
  readonly contextDim: number;
  private readonly lookup: (key: string) => tf.Variable;

  /** @param lookup returns the model's variable for a state-dict key (tfjs layout). */
  constructor(path: string, heads: number, innerDim: number, contextDim: number, lookup: (key: string) => tf.Variable) {
    this.path = path;
    this.heads = heads;
    this.innerDim = innerDim;
    this.contextDim = contextDim;
    this.lookup = lookup;
  }

  /** A copy of `to_k`/`to_v`'s weight, float32 [out, in]. The caller owns it. */
  readProjection(name: ProjectionName): tf.Tensor2D {
    const variable = this.variable(name); // [in, out]
    return tf.transpose(variable) as tf.Tensor2D; // [in, out] -> [out, in]
  }

  /**
   * Replaces `to_k`/`to_v`'s weight with a copy of `weight` float32 [out, in]; `weight` is not disposed.
   * @throws ShapeMismatchError when `weight` is not [innerDim, contextDim]
   */
  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void {
    if (weight.rank !== 2 || weight.shape[0] !== this.innerDim || weight.shape[1] !== this.contextDim) {
      throw new ShapeMismatchError({ what: `${this.path}.${name}.weight`, expected: [this.innerDim, this.contextDim], received: weight.shape });
    }
    const variable = this.variable(name);
    tf.tidy(() => variable.assign(tf.transpose(tf.cast(weight, 'float32')))); // [out, in] -> [in, out]
  }

  private variable(name: ProjectionName): tf.Variable {
    if (name !== 'to_k' && name !== 'to_v') throw new InvalidOptionError({ option: 'name', expected: "'to_k' or 'to_v'", received: name });
    return this.lookup(`${this.path}.${name}.weight`);
  }
}
