/**
 * LoRA factors as host copies in the canonical layout of `@erase/sd`'s LoRA readers/writers (`LoraWeights`):
 * module path → { down: A [r, in], up: B [out, r], alpha }, float32 PyTorch layout, so the map can be handed to
 * `writeLora` / `loadLora` without this package depending on `@erase/sd`.
 *
 * Notation: W' = W + scale · (α / r) · B A for the Linear at the module path.
 */
import type { LoraAdapter } from '@erase/core';

/** A float32 host tensor, structurally the same as `@erase/sd`'s `HostTensor`. */
export interface LoraHostTensor {
  readonly dtype: 'float32';
  readonly fileDtype: 'F32';
  /** PyTorch layout. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** One adapted module's factors. */
export interface LoraLayerCopy {
  /** A, [r, in]. */
  readonly down: LoraHostTensor;
  /** B, [out, r]. */
  readonly up: LoraHostTensor;
  /** α (r when the config gave none). */
  readonly alpha: number;
}

/** Module path (diffusers name) → factors. */
export type LoraWeightCopies = Map<string, LoraLayerCopy>;

/**
 * Reads the adapter's factors to the host (synchronously; copies). The adapter is not changed.
 * Must be called while the adapter is attached (its variables are disposed on `fuse`/`detach`).
 */
export function copyLoraWeights(adapter: LoraAdapter): LoraWeightCopies {
  const alpha = adapter.config.alpha ?? adapter.config.rank;
  const out: LoraWeightCopies = new Map();
  for (const [path, layer] of adapter.layers) {
    out.set(path, {
      down: { dtype: 'float32', fileDtype: 'F32', shape: [...layer.down.shape], data: Float32Array.from(layer.down.dataSync() as Float32Array) }, // [r, in]
      up: { dtype: 'float32', fileDtype: 'F32', shape: [...layer.up.shape], data: Float32Array.from(layer.up.dataSync() as Float32Array) }, // [out, r]
      alpha,
    });
  }
  return out;
}
