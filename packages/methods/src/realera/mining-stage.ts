/**
 * RealEra stage (a): neighbour-concept mining and beyond-concept sampling on each concept's erased slice
 * (paper §4.1–4.2, Algorithm 1 lines 2–23; methods.md §2), through @erase/sampling's `mineRealEraConcepts`.
 *
 * Notation: e, e* [L, D] the erased and anchor slices; the sampler returns M neighbours e + η [M, L, D], their
 * anchor partners e* + η' [M, L, D] and N beyond samples [N, L, D]. Samples are kept on the host (float32).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@erase/core';
import { mineRealEraConcepts, type RealEraSamplingStats, type ResolvedRealEraSamplerOptions } from '@erase/sampling';
import type { ConceptSlices } from './concept-slices';
import { samplerOptionError } from './options';

/** Mined samples of one concept, host float32 row-major. */
export interface MinedSamples {
  /** M. */
  readonly neighbourCount: number;
  /** N. */
  readonly beyondCount: number;
  /** e + η, [M, L, D]. */
  readonly neighbours: Float32Array;
  /** e* + η', [M, L, D]. */
  readonly anchorPartners: Float32Array;
  /** beyond samples, [N, L, D]. */
  readonly beyond: Float32Array;
  readonly stats: RealEraSamplingStats;
}

/**
 * Mines samples for one concept, drawing from `rng` (it advances). `counts` overrides M and N (the LoRA stage asks
 * for one fresh sample of each per step). No tensor is left behind.
 * @throws what `mineRealEraConcepts` throws (SamplingExhaustedError with the acceptance rate; InvalidOptionError,
 *   re-named `sampler.<name>`).
 */
export async function mineConcept(
  concept: ConceptSlices,
  width: number,
  sampler: ResolvedRealEraSamplerOptions,
  rng: Rng,
  counts?: { readonly neighbours: number; readonly beyond: number },
): Promise<MinedSamples> {
  const erased = tf.tensor2d(concept.erase, [concept.rows, width], 'float32'); // e [L, D]
  const anchor = tf.tensor2d(concept.anchorSlice, [concept.rows, width], 'float32'); // e* [L, D]
  try {
    const { seed: _seed, ...settings } = sampler;
    const samples = await mineRealEraConcepts(erased, anchor, {
      ...settings,
      numNeighbours: counts?.neighbours ?? sampler.numNeighbours,
      numBeyond: counts?.beyond ?? sampler.numBeyond,
      rng,
    }).catch((error: unknown) => {
      throw samplerOptionError(error); // e.g. M·L·D over the output cap: named `sampler.numNeighbours`
    });
    try {
      return {
        neighbourCount: samples.neighbours.shape[0],
        beyondCount: samples.beyond.shape[0],
        neighbours: (await samples.neighbours.data()) as Float32Array, // [M, L, D]
        anchorPartners: (await samples.anchorPartners.data()) as Float32Array, // [M, L, D]
        beyond: (await samples.beyond.data()) as Float32Array, // [N, L, D]
        stats: samples.stats,
      };
    } finally {
      samples.neighbours.dispose();
      samples.anchorPartners.dispose();
      samples.beyond.dispose();
    }
  } finally {
    erased.dispose();
    anchor.dispose();
  }
}
