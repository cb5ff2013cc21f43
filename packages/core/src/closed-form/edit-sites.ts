/**
 * Site-level driver of the closed-form edit: reads every cross-attention projection once into host
 * memory (its float32 values), edits it with float64 arithmetic and writes float32 back. This is the
 * only module where the closed form's host float64 math crosses tfjs.
 *
 * Notation as in key-system.ts: C [n, D] erase keys, A [n, D] anchor keys, P [m, D] preserve keys,
 * W [out, D] one projection (`attn2.to_k` / `attn2.to_v`, diffusers layout), V [n, out] its targets.
 * The Gram matrix G and the gain K = s_e diag(w) C G⁻¹ are factored once for all projections. Per
 * projection the update is `W + (V − C Wᵀ)ᵀ K` (O(out·n·D)); when every target is an anchor
 * (`V = A Wᵀ`) and n ≥ D, the shared D×D factor M of anchor-factor.ts is cheaper and `W · M` is used.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError, throwIfAborted } from '../errors/errors';
import type { CrossAttentionSite, ProjectionName } from '../interfaces/unet';
import { reportProgress, type LongRunningOptions } from '../progress/progress';
import { anchorFactorFromKeySystem, applyEditFactor } from './anchor-factor';
import { multiplyTransposeB } from './dense';
import { checkHostMatrix, frobeniusDistance, frobeniusNorm, type HostMatrix } from './host-matrix';
import {
  applyResidualUpdate,
  buildKeySystem,
  erasureResiduals,
  type ClosedFormOptions,
  type KeySystem,
  type ResolvedClosedFormOptions,
} from './key-system';
import { uceTensorTargets } from './uce-targets';

/** A matrix given either on the host or as a float32 rank-2 tfjs tensor (read, never disposed). */
export type MatrixInput = HostMatrix | tf.Tensor2D;

/** Where the erase keys should map to. */
export type CrossAttentionTargets =
  /** v*_i = W_orig c*_i (UCE `replace`, RealEra): the anchor keys A [n, D], row-aligned with C. */
  | { readonly kind: 'anchor'; readonly anchorKeys: MatrixInput }
  /** UCE 2023 `tensor` technique (uce-targets.ts); `sliceLengths` partition the n rows (default one slice). */
  | { readonly kind: 'uce-tensor'; readonly anchorKeys: MatrixInput; readonly sliceLengths?: readonly number[] }
  /** Explicit targets V [n, out] per projection, keyed `${site.path}.${projection}` (e.g. `…attn2.to_k`). */
  | { readonly kind: 'explicit'; readonly values: ReadonlyMap<string, MatrixInput> };

/** What to edit. All tensors are read, never disposed. */
export interface CrossAttentionEditPlan {
  /** C [n, D]: token vectors to erase. */
  readonly eraseKeys: MatrixInput;
  readonly targets: CrossAttentionTargets;
  /** P [m, D]: token vectors whose outputs are preserved. Default: none. */
  readonly preserveKeys?: MatrixInput;
  /** Per-row weights of the erase keys (≥ 0). Default: all 1. */
  readonly eraseWeights?: ArrayLike<number>;
  /** Per-row weights of the preserve keys (≥ 0). Default: all 1. */
  readonly preserveWeights?: ArrayLike<number>;
  /** Which projections of each site to edit. Default `['to_k', 'to_v']`. */
  readonly projections?: readonly ProjectionName[];
}

/** Options: the closed-form weights (λ = 0.5, s_e = 1, s_p = 1 by default), progress and abort. */
export interface CrossAttentionEditOptions extends ClosedFormOptions, LongRunningOptions {}

/** What happened to one projection. Norms are Frobenius norms over all rows. */
export interface ProjectionEditStatistics {
  /** `${path}.${projection}`. */
  readonly key: string;
  readonly path: string;
  readonly projection: ProjectionName;
  /** `out` of W. */
  readonly outDim: number;
  /** ‖W‖_F before the edit. */
  readonly weightNorm: number;
  /** ‖W_new − W‖_F / ‖W‖_F (0 when W = 0 and unchanged). */
  readonly relativeChange: number;
  /** ‖V‖_F, the size of the targets. */
  readonly targetNorm: number;
  /** ‖C Wᵀ − V‖_F before the edit. */
  readonly residualBefore: number;
  /** ‖C W_newᵀ − V‖_F after the edit (computed from the float64 result, before rounding to float32). */
  readonly residualAfter: number;
  /** `anchor-factor`: W · M with the shared D×D factor; `low-rank`: W + (V − C Wᵀ)ᵀ K. */
  readonly method: 'anchor-factor' | 'low-rank';
}

/** The result of `editCrossAttentionSites`. */
export interface CrossAttentionEditReport {
  /** D. */
  readonly dim: number;
  /** n. */
  readonly eraseCount: number;
  /** m. */
  readonly preserveCount: number;
  readonly options: ResolvedClosedFormOptions;
  /** One entry per edited projection, in site order then projection order. */
  readonly projections: readonly ProjectionEditStatistics[];
}

/**
 * Edits the cross-attention projections of `sites` in closed form (methods.md §1) and writes them back.
 *
 * Every projection is read once, edited on the host in float64 arithmetic, and written back as float32
 * through `site.writeProjection`. Writes happen only after every projection has been computed, so an
 * error or an abort before that leaves all sites unchanged. Tensors in `plan` are read, not disposed;
 * no tensor is left behind (`tf.memory().numTensors` is unchanged apart from the sites' own weights).
 * @throws InvalidOptionError for bad options, weights, projections, non-finite keys or missing explicit
 *   targets; ShapeMismatchError when keys, targets or a site's dimensions disagree;
 *   NotPositiveDefiniteError (option `lambda`) when the Gram matrix is singular; AbortedError on abort.
 */
export async function editCrossAttentionSites(
  sites: readonly CrossAttentionSite[],
  plan: CrossAttentionEditPlan,
  options: CrossAttentionEditOptions = {},
): Promise<CrossAttentionEditReport> {
  const what = 'editCrossAttentionSites';
  const projections = resolveProjections(plan.projections);
  const eraseKeys = await readMatrix(plan.eraseKeys, 'eraseKeys');
  const dim = eraseKeys.cols;
  const preserveKeys = plan.preserveKeys === undefined ? undefined : await readMatrix(plan.preserveKeys, 'preserveKeys', null, dim);
  const targets = plan.targets;
  const anchorKeys =
    targets.kind === 'explicit' ? undefined : await readMatrix(targets.anchorKeys, 'targets.anchorKeys', eraseKeys.rows, dim);
  for (const [index, site] of sites.entries()) {
    if (site.contextDim !== dim) {
      throw new ShapeMismatchError({ what: `sites[${index}] (${site.path}) context dim vs the keys' width D`, expected: [dim], received: [site.contextDim] });
    }
  }
  if (targets.kind === 'explicit') checkExplicitKeys(sites, projections, targets.values);

  const system = buildKeySystem(
    { eraseKeys, preserveKeys, eraseWeights: plan.eraseWeights, preserveWeights: plan.preserveWeights },
    options,
  );
  // Per projection, W · M costs out·D² and the low-rank update out·n·D (measured at D = 768, out = 1280,
  // n = 77: 2.0 s vs 0.5 s including the statistics), so the shared factor only pays off once n ≥ D.
  const useFactor = targets.kind === 'anchor' && system.eraseCount >= dim;
  const factor = useFactor && anchorKeys ? anchorFactorFromKeySystem(system, anchorKeys) : undefined;

  const total = sites.length * projections.length;
  const results: { site: CrossAttentionSite; projection: ProjectionName; data: Float32Array; original: Float32Array; shape: [number, number] }[] = [];
  const statistics: ProjectionEditStatistics[] = [];
  for (const site of sites) {
    for (const projection of projections) {
      throwIfAborted(options.signal, what);
      const key = `${site.path}.${projection}`;
      const weight = await readProjection(site, projection, key);
      const targetMatrix =
        targets.kind === 'explicit'
          ? await readMatrix(targets.values.get(key) as MatrixInput, `targets.values['${key}']`, system.eraseCount, weight.rows)
          : targets.kind === 'uce-tensor'
            ? uceTensorTargets(weight, eraseKeys, anchorKeys as HostMatrix, targets.sliceLengths)
            : multiplyTransposeB(anchorKeys as HostMatrix, weight); // [n, D] x [out, D]ᵀ -> [n, out]
      const edited = editOne(system, weight, targetMatrix, factor);
      const stats = { key, path: site.path, projection, outDim: weight.rows, ...edited.stats };
      statistics.push(stats);
      results.push({ site, projection, data: Float32Array.from(edited.weight.data), original: Float32Array.from(weight.data), shape: [weight.rows, dim] });
      reportProgress(options.onProgress, {
        stage: 'closed-form.edit',
        step: statistics.length,
        total,
        message: key,
        metrics: { relativeChange: stats.relativeChange, residualBefore: stats.residualBefore, residualAfter: stats.residualAfter },
      });
    }
  }

  throwIfAborted(options.signal, what);
  const write = (result: (typeof results)[number], data: Float32Array): void => {
    const tensor = tf.tensor2d(data, result.shape, 'float32'); // [out, D]
    try {
      result.site.writeProjection(result.projection, tensor);
    } finally {
      tensor.dispose();
    }
  };
  let written = 0;
  try {
    for (const result of results) {
      write(result, result.data);
      written += 1;
    }
  } catch (error) {
    // all sites or none: the projections already written get their original weights back
    for (const result of results.slice(0, written)) write(result, result.original);
    throw error;
  }
  return {
    dim,
    eraseCount: system.eraseCount,
    preserveCount: system.preserveCount,
    options: system.options,
    projections: statistics,
  };
}

function editOne(
  system: KeySystem,
  weight: HostMatrix,
  targets: HostMatrix,
  factor: HostMatrix | undefined,
): { weight: HostMatrix; stats: Omit<ProjectionEditStatistics, 'key' | 'path' | 'projection' | 'outDim'> } {
  const residuals = erasureResiduals(system.eraseKeys, weight, targets); // [n, out]
  const edited = factor ? applyEditFactor(weight, factor) : applyResidualUpdate(system, weight, residuals); // [out, D]
  const after = erasureResiduals(system.eraseKeys, edited, targets); // [n, out]
  const weightNorm = frobeniusNorm(weight);
  const change = frobeniusDistance(edited, weight);
  return {
    weight: edited,
    stats: {
      weightNorm,
      relativeChange: weightNorm > 0 ? change / weightNorm : change === 0 ? 0 : Infinity,
      targetNorm: frobeniusNorm(targets),
      residualBefore: frobeniusNorm(residuals),
      residualAfter: frobeniusNorm(after),
      method: factor ? 'anchor-factor' : 'low-rank',
    },
  };
}

function resolveProjections(projections: readonly ProjectionName[] | undefined): readonly ProjectionName[] {
  const list = projections ?? (['to_k', 'to_v'] as const);
  const seen = new Set<string>();
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionError({ option: 'projections', expected: "a non-empty list of 'to_k' / 'to_v'", received: list });
  }
  for (const name of list) {
    if ((name !== 'to_k' && name !== 'to_v') || seen.has(name)) {
      throw new InvalidOptionError({ option: 'projections', expected: "distinct entries among 'to_k' and 'to_v'", received: name });
    }
    seen.add(name);
  }
  return list;
}

function checkExplicitKeys(
  sites: readonly CrossAttentionSite[],
  projections: readonly ProjectionName[],
  values: ReadonlyMap<string, MatrixInput>,
): void {
  const missing: string[] = [];
  for (const site of sites) {
    for (const projection of projections) {
      const key = `${site.path}.${projection}`;
      if (!values.has(key)) missing.push(key);
    }
  }
  if (missing.length > 0) {
    throw new InvalidOptionError({
      option: 'targets.values',
      expected: 'a target matrix for every edited projection',
      message: `Invalid option \`targets.values\`: no targets for ${missing.length} projection(s):\n${missing.map((k) => `  - ${k}`).join('\n')}`,
    });
  }
}

async function readProjection(site: CrossAttentionSite, projection: ProjectionName, key: string): Promise<HostMatrix> {
  const tensor = site.readProjection(projection);
  try {
    if (tensor.rank !== 2 || tensor.shape[0] !== site.innerDim || tensor.shape[1] !== site.contextDim) {
      throw new ShapeMismatchError({ what: `${key} weight [out, in]`, expected: [site.innerDim, site.contextDim], received: tensor.shape });
    }
    const data = (await tensor.data()) as Float32Array;
    const weight = { rows: site.innerDim, cols: site.contextDim, data: Float32Array.from(data) };
    checkHostMatrix(weight, key);
    return weight;
  } finally {
    tensor.dispose();
  }
}

function isHostMatrix(value: MatrixInput): value is HostMatrix {
  return typeof value === 'object' && value !== null && 'rows' in value && 'cols' in value && !('shape' in value);
}

async function readMatrix(
  input: MatrixInput,
  name: string,
  rows: number | null = null,
  cols: number | null = null,
): Promise<HostMatrix> {
  if (isHostMatrix(input)) {
    checkHostMatrix(input, name, rows, cols);
    return input;
  }
  if (typeof input !== 'object' || input === null || !Array.isArray((input as { shape?: unknown }).shape)) {
    throw new InvalidOptionError({ option: name, expected: 'a HostMatrix or a rank-2 float32 tensor', received: input });
  }
  if (input.rank !== 2) throw new ShapeMismatchError({ what: name, expected: [rows, cols], received: input.shape });
  if (input.dtype !== 'float32') {
    throw new InvalidOptionError({ option: name, expected: 'a float32 tensor', received: input.dtype });
  }
  const data = (await input.data()) as Float32Array;
  const matrix = { rows: input.shape[0], cols: input.shape[1], data: Float32Array.from(data) };
  checkHostMatrix(matrix, name, rows, cols);
  return matrix;
}
