/**
 * One proposal of RealEra's samplers, host-side float64 (paper Algorithm 1 lines 5–6 and 14–15; eq. 5).
 *
 * Notation:
 *   F             length of the perturbed vector: D per token ('per-token') or n·D ('flattened')
 *   e    [F]      the perturbed vector, ‖e‖ its norm                       → `vector.values`, `vector.norm`
 *   v    [F]      v ~ N(0, I_F)
 *   û    [F]      û = (v − e)/‖v − e‖ (the paper's v̂)                     → `direction`
 *   r             radius: r ~ U[0, D1] (neighbours) or l ~ U[D1, D2) (beyond)
 *   η    [F]      η = r·û
 *   a             ⟨e, û⟩                                                    → `eDotU`
 *   cos(e, e + η) = (‖e‖² + r·a) / (‖e‖·‖e + η‖),  ‖e + η‖ = √(‖e‖² + 2r·a + r²)   (exact, no tensor needed)
 */
import { InvalidOptionError, type Rng } from '@erase/core';
import type { PerturbationMode } from './options';

/** A vector the samplers perturb: one token vector, or the flattened slice. */
export interface PerturbedVector {
  /** e, float64 [F]. */
  readonly values: Float64Array;
  /** ‖e‖. */
  readonly norm: number;
}

/**
 * Splits an [n, D] slice (row-major) into the vectors the samplers perturb.
 * @throws InvalidOptionError (option `what`) for a non-finite value or, when `requireNonZero`, a zero vector.
 */
export function toPerturbedVectors(
  data: ArrayLike<number>,
  n: number,
  width: number,
  mode: PerturbationMode,
  what: string,
  requireNonZero: boolean,
): PerturbedVector[] {
  const length = mode === 'per-token' ? width : n * width;
  const count = mode === 'per-token' ? n : 1;
  const vectors: PerturbedVector[] = [];
  for (let j = 0; j < count; j++) {
    const values = new Float64Array(length); // [F]
    let squared = 0;
    for (let k = 0; k < length; k++) {
      const x = data[j * length + k] as number;
      if (!Number.isFinite(x)) {
        throw new InvalidOptionError({
          option: what,
          expected: 'finite values',
          received: `${x} at flat index ${j * length + k}`,
        });
      }
      values[k] = x;
      squared += x * x;
    }
    const norm = Math.sqrt(squared);
    if (requireNonZero && norm === 0) {
      throw new InvalidOptionError({
        option: what,
        expected: 'vectors with a non-zero norm (the cosine to a zero vector is undefined)',
        received: mode === 'per-token' ? `token row ${j} with norm 0` : 'a slice with norm 0',
      });
    }
    vectors.push({ values, norm });
  }
  return vectors;
}

/**
 * Draws û = (v − e)/‖v − e‖ into `direction` and returns a = ⟨e, û⟩. Consumes F normals per try; a try
 * is repeated only in the probability-zero case v = e.
 */
export function drawDirection(vector: PerturbedVector, rng: Rng, direction: Float64Array): number {
  const e = vector.values; // [F]
  for (let attempt = 0; attempt < 64; attempt++) {
    let squared = 0;
    for (let k = 0; k < e.length; k++) {
      const diff = rng.normal() - (e[k] as number);
      direction[k] = diff;
      squared += diff * diff;
    }
    if (squared > 0 && Number.isFinite(squared)) {
      const inverse = 1 / Math.sqrt(squared);
      let dot = 0;
      for (let k = 0; k < e.length; k++) {
        const u = (direction[k] as number) * inverse;
        direction[k] = u;
        dot += (e[k] as number) * u;
      }
      return dot;
    }
  }
  throw new InvalidOptionError({ option: 'erased', expected: 'values of moderate size', received: 'v − e kept vanishing' });
}

/** ‖e + r·û‖ from ‖e‖, a = ⟨e, û⟩ and r. */
export function perturbedNorm(norm: number, eDotU: number, radius: number): number {
  return Math.sqrt(Math.max(0, norm * norm + 2 * radius * eDotU + radius * radius));
}

/** cos(e, e + r·û); NaN when e + r·û = 0 (rejected by every acceptance test). */
export function cosineAfterStep(norm: number, eDotU: number, radius: number): number {
  const moved = perturbedNorm(norm, eDotU, radius);
  if (moved === 0 || norm === 0) return Number.NaN;
  return (norm * norm + radius * eDotU) / (norm * moved);
}

/** Running min / mean / max of a stream of numbers. */
export interface Summary {
  /** Number of values summarised. */
  readonly count: number;
  /** NaN when count is 0. */
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

/** Accumulates a {@link Summary}. */
export class SummaryAccumulator {
  private n = 0;
  private sum = 0;
  private low = Infinity;
  private high = -Infinity;

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    this.n++;
    this.sum += value;
    if (value < this.low) this.low = value;
    if (value > this.high) this.high = value;
  }

  result(): Summary {
    if (this.n === 0) return { count: 0, min: Number.NaN, mean: Number.NaN, max: Number.NaN };
    return { count: this.n, min: this.low, mean: this.sum / this.n, max: this.high };
  }
}
