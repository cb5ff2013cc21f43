/**
 * RealEra stage (b): the closed-form cross-attention alignment (paper §4.2, eq. 7, Algorithm 1 line 24;
 * methods.md §1), with the ridge of UCE added:
 *
 *   min_W  λ‖W − W_org‖² + Σ_{e_i∈E} w_i ‖W e_i − W_org e*_i‖² + λ1 Σ_{e_j∈P} w_j ‖W e_j − W_org e_j‖²
 *
 * Notation: E = the erased slice rows e of every concept (w = 1) plus the rows of its mined neighbours e + η
 * (w = `neighbourWeight`), row-aligned with E* = e* and the anchor partners e* + η'; P = all T rows of every
 * preserved prompt (w = 1) plus the rows of the beyond-concept samples (w = `beyondWeight`); λ1 = `preserveWeight`.
 * Every token row is one key (the sum over a slice's tokens, as UCE 2023). Solved by core's
 * `editCrossAttentionSites` (float64 Cholesky), written into the model's sites.
 */
import {
  editCrossAttentionSites,
  hostMatrix,
  type CrossAttentionEditReport,
  type CrossAttentionSite,
  type LongRunningOptions,
} from '@erase/core';
import { concatRows } from '../shared/token-selection';
import type { ConceptSlices } from './concept-slices';
import type { MinedSamples } from './mining-stage';
import type { ResolvedRealEraOptions } from './options';

/** Statistics of the closed-form stage. */
export interface RealEraClosedFormStatistics {
  /** Erase keys: concept rows + neighbour rows. */
  readonly eraseKeyCount: number;
  /** Of which mined neighbour rows. */
  readonly neighbourKeyCount: number;
  /** Preserve keys: prompt rows + beyond rows. */
  readonly preserveKeyCount: number;
  /** Of which beyond-concept rows. */
  readonly beyondKeyCount: number;
  /** Core's report: per projection ‖W‖, relative change, residuals before/after. */
  readonly report: CrossAttentionEditReport;
}

/**
 * Edits every site's projections in place. `mined[k]` are concept k's samples (undefined: none).
 * `preserveContexts` are the encoder outputs [T, D] of the preserved prompts.
 * @throws what `editCrossAttentionSites` throws (NotPositiveDefiniteError, ShapeMismatchError, AbortedError);
 *   on a throw no site has been written.
 */
export async function realEraClosedForm(
  sites: readonly CrossAttentionSite[],
  concepts: readonly ConceptSlices[],
  mined: readonly (MinedSamples | undefined)[],
  preserveContexts: readonly Float32Array[],
  width: number,
  options: ResolvedRealEraOptions['closedForm'],
  run: LongRunningOptions,
): Promise<RealEraClosedFormStatistics> {
  const eraseBlocks: Float32Array[] = [];
  const anchorBlocks: Float32Array[] = [];
  const eraseWeights: number[] = [];
  const preserveBlocks: Float32Array[] = [...preserveContexts]; // T rows each
  const preserveWeights: number[] = preserveContexts.flatMap((c) => new Array<number>(c.length / width).fill(1));
  let neighbourRows = 0;
  let beyondRows = 0;
  concepts.forEach((concept, k) => {
    eraseBlocks.push(concept.erase); // e [L, D]
    anchorBlocks.push(concept.anchorSlice); // e* [L, D]
    eraseWeights.push(...new Array<number>(concept.rows).fill(1));
    const samples = options.useMinedSamples ? mined[k] : undefined;
    if (!samples) return;
    const m = samples.neighbourCount * concept.rows;
    const n = samples.beyondCount * concept.rows;
    eraseBlocks.push(samples.neighbours); // [M·L, D]
    anchorBlocks.push(samples.anchorPartners); // [M·L, D]
    eraseWeights.push(...new Array<number>(m).fill(options.neighbourWeight));
    preserveBlocks.push(samples.beyond); // [N·L, D]
    preserveWeights.push(...new Array<number>(n).fill(options.beyondWeight));
    neighbourRows += m;
    beyondRows += n;
  });
  const eraseCount = eraseWeights.length; // n
  const preserveCount = preserveWeights.length; // m
  const anchorKeys = hostMatrix(eraseCount, width, concatRows(anchorBlocks)); // E* [n, D]
  const report = await editCrossAttentionSites(
    sites,
    {
      eraseKeys: hostMatrix(eraseCount, width, concatRows(eraseBlocks)), // E [n, D]
      targets: { kind: 'anchor', anchorKeys },
      ...(preserveCount > 0
        ? { preserveKeys: hostMatrix(preserveCount, width, concatRows(preserveBlocks)), preserveWeights } // P [m, D]
        : {}),
      eraseWeights,
      projections: options.projections,
    },
    { lambda: options.lambda, eraseScale: 1, preserveScale: options.preserveWeight, onProgress: run.onProgress, signal: run.signal },
  );
  return { eraseKeyCount: eraseCount, neighbourKeyCount: neighbourRows, preserveKeyCount: preserveCount, beyondKeyCount: beyondRows, report };
}
