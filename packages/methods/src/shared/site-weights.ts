/**
 * Cross-attention projection weights as caller-owned tensors, and a site wrapper that records writes instead
 * of applying them (so a closed-form edit can be computed without touching the model).
 *
 * Notation: W ∈ ℝ^{out×D} a projection `attn2.to_k` / `attn2.to_v` in diffusers layout [out, in]; weights are
 * keyed `${site.path}.${projection}`, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CrossAttentionSite, ProjectionName } from '@erase/core';

/** Projection weights keyed `${site.path}.${projection}`, float32 [out, in]. */
export type ProjectionWeights = Map<string, tf.Tensor2D>;

/** `${path}.${projection}`. */
export function projectionKey(site: CrossAttentionSite, projection: ProjectionName): string {
  return `${site.path}.${projection}`;
}

/** Copies of the given projections of every site (float32 [out, in]); the caller owns them. */
export function readProjections(sites: readonly CrossAttentionSite[], projections: readonly ProjectionName[]): ProjectionWeights {
  const out: ProjectionWeights = new Map();
  try {
    for (const site of sites) for (const projection of projections) out.set(projectionKey(site, projection), site.readProjection(projection)); // [out, in]
  } catch (error) {
    disposeWeights(out);
    throw error;
  }
  return out;
}

/** Writes every weight of `weights` back into its site (copies; `weights` is not disposed). */
export function writeProjections(sites: readonly CrossAttentionSite[], projections: readonly ProjectionName[], weights: ProjectionWeights): void {
  for (const site of sites) {
    for (const projection of projections) {
      const weight = weights.get(projectionKey(site, projection));
      if (weight) site.writeProjection(projection, weight); // [out, in]
    }
  }
}

/** Disposes every tensor of a weight map and clears it. */
export function disposeWeights(weights: ProjectionWeights): void {
  for (const tensor of weights.values()) tensor.dispose();
  weights.clear();
}

/**
 * A view on a site that reads through to it but records `writeProjection` calls (as float32 copies) instead of
 * changing the model. `recorded` holds the last write of each projection; the creator owns those tensors.
 */
export class RecordingSite implements CrossAttentionSite {
  readonly path: string;
  readonly heads: number;
  readonly innerDim: number;
  readonly contextDim: number;
  private readonly inner: CrossAttentionSite;
  private readonly recorded: ProjectionWeights;

  constructor(inner: CrossAttentionSite, recorded: ProjectionWeights) {
    this.inner = inner;
    this.path = inner.path;
    this.heads = inner.heads;
    this.innerDim = inner.innerDim;
    this.contextDim = inner.contextDim;
    this.recorded = recorded;
  }

  /** The recorded weight when one was written, else the site's own. The caller owns the copy. */
  readProjection(name: ProjectionName): tf.Tensor2D {
    const written = this.recorded.get(projectionKey(this, name));
    return written ? (tf.clone(written) as tf.Tensor2D) : this.inner.readProjection(name); // [out, in]
  }

  /** Records a float32 copy of `weight` [out, in]; the model is not changed. `weight` is not disposed. */
  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void {
    const key = projectionKey(this, name);
    this.recorded.get(key)?.dispose();
    this.recorded.set(key, tf.tidy(() => tf.cast(weight, 'float32') as tf.Tensor2D)); // [out, in]
  }
}
