/**
 * Test helpers: a `CrossAttentionSite` backed by two tf.Variables stored [out, in], and the location of the
 * shared parity fixtures (../shared/fixtures next to the repository, or $ERASE_FIXTURES; a missing folder fails).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError, type CrossAttentionSite, type ProjectionName } from '@erase/core';

/** A cross-attention site whose to_k / to_v are tf.Variables in diffusers layout [out, in]. */
export class VariableSite implements CrossAttentionSite {
  readonly path: string;
  readonly heads: number;
  readonly innerDim: number;
  readonly contextDim: number;
  readonly weights: Record<ProjectionName, tf.Variable>;

  /** `toK`, `toV`: float32 [out, in] values (copied into new variables). */
  constructor(path: string, heads: number, toK: tf.Tensor2D, toV: tf.Tensor2D) {
    this.path = path;
    this.heads = heads;
    this.innerDim = toK.shape[0];
    this.contextDim = toK.shape[1];
    this.weights = { to_k: tf.variable(toK, false), to_v: tf.variable(toV, false) };
  }

  readProjection(name: ProjectionName): tf.Tensor2D {
    return tf.clone(this.weights[name]) as tf.Tensor2D; // [out, in]
  }

  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void {
    if (weight.shape[0] !== this.innerDim || weight.shape[1] !== this.contextDim) {
      throw new ShapeMismatchError({ what: `${this.path}.${name}`, expected: [this.innerDim, this.contextDim], received: weight.shape });
    }
    this.weights[name].assign(weight);
  }

  dispose(): void {
    this.weights.to_k.dispose();
    this.weights.to_v.dispose();
  }
}

const here = dirname(fileURLToPath(import.meta.url));

/** Path of a shared fixture; throws (so the test fails) when the fixtures are absent. */
export function fixture(...parts: string[]): string {
  const repoRoot = resolve(here, '../../../..');
  const candidates = [process.env.ERASE_FIXTURES, join(repoRoot, '../shared/fixtures'), join(repoRoot, 'shared/fixtures')];
  for (const c of candidates) if (c && existsSync(c)) return join(c, ...parts);
  throw new Error('Parity fixtures not found: expected ../shared/fixtures next to the repository (or ERASE_FIXTURES).');
}
