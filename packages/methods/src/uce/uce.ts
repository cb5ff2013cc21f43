/**
 * Unified Concept Editing (Gandikota et al., WACV 2024, eq. 7; methods.md §1), reproducing both official scripts:
 * UCE 2023 (`train-scripts/train_erase.py::edit_model`) and UCE 2025 (`trainscripts/uce_sd_erase.py::UCE`).
 *
 * Notation (per projection W ∈ ℝ^{out×D}, `attn2.to_k` or `attn2.to_v` of every cross-attention site):
 *   c_i, c*_i   erase keys and their anchor keys (token vectors of the erase / anchor prompts, token-selection.ts)
 *   c_j         preserve keys
 *   v*_i        targets: `replace` W c*_i; `tensor` W C* − ⟨U, W C*⟩ U per prompt slice, U = W C / ‖W C‖_F
 *   W_new = (λW + s_e Σ_i v*_i c_iᵀ + s_p Σ_j (W c_j) c_jᵀ)(λI + s_e Σ_i c_i c_iᵀ + s_p Σ_j c_j c_jᵀ)⁻¹
 * Every target uses the *original* W of its own projection (the official loop edits one projection at a time and
 * reads the others' values before they change). The solve is core's `editCrossAttentionSites` (float64 Cholesky).
 */
import {
  UnsupportedError,
  editCrossAttentionSites,
  hostMatrix,
  reportProgress,
  throwIfAborted,
  type CrossAttentionEditPlan,
  type DiffusionModel,
  type ProjectionEditStatistics,
} from '@erase/core';
import { projectionParameterNames, type ErasureResultBase } from '../shared/erasure-result';
import { encodePromptTable, encodedPrompt } from '../shared/prompt-encoding';
import { RecordingSite, disposeWeights, writeProjections, type ProjectionWeights } from '../shared/site-weights';
import { concatRows, lastWordTokenIndex, lastWordTokenVector, uce2023Slices } from '../shared/token-selection';
import { resolveUceOptions, type ResolvedUceOptions, type UceOptions } from './options';

/** Which rows of one erase prompt entered the edit. */
export interface UcePromptSelection {
  readonly prompt: string;
  readonly anchor: string;
  /** First erase row in the prompt's encoder output (i_old). */
  readonly eraseStart: number;
  /** First anchor row in the anchor's encoder output (i_new). */
  readonly anchorStart: number;
  /** Rows taken (L = T − max(i_old, i_new) for 2023, 1 for 2025). */
  readonly rows: number;
}

/** What `uce()` did. */
export interface UceStatistics {
  /** n, erase keys over all prompts. */
  readonly eraseKeyCount: number;
  /** m, preserve keys. */
  readonly preserveKeyCount: number;
  readonly prompts: readonly UcePromptSelection[];
  /** Per edited projection: norms, relative change and residuals ‖C Wᵀ − V‖ before/after (core's report). */
  readonly projections: readonly ProjectionEditStatistics[];
}

/** Result of `uce()`. The caller owns `weights` (call `dispose()`). */
export interface UceResult extends ErasureResultBase {
  readonly method: 'uce';
  /** Edited projections keyed `${site.path}.to_k` / `.to_v`, float32 [out, in]. */
  readonly weights: ProjectionWeights;
  readonly options: ResolvedUceOptions;
  readonly statistics: UceStatistics;
  /** Disposes `weights`. */
  dispose(): void;
}

/**
 * Erases concepts from a model's cross-attention projections in closed form, as the official UCE code does.
 * With `inPlace` (default) the model's to_k/to_v weights are replaced; either way the edited weights are returned.
 * An error or abort leaves the model unchanged. Emits progress events `uce.encode` and core's `closed-form.edit`.
 * @throws InvalidOptionError for bad options; UnsupportedError for a model without cross-attention sites;
 *   ShapeMismatchError when the encoder width differs from the sites'; NotPositiveDefiniteError for λ = 0 with too
 *   few keys; AbortedError on abort.
 */
export async function uce(model: DiffusionModel, options: UceOptions): Promise<UceResult> {
  const resolved = resolveUceOptions(options);
  const sites = model.unet.crossAttentionSites();
  if (sites.length === 0) throw new UnsupportedError(`${model.source}: the noise predictor has no cross-attention sites for UCE to edit.`);

  const allPrompts = [...resolved.erasePrompts, ...resolved.anchorPrompts, ...resolved.preservePrompts];
  const table = await encodePromptTable(model.textEncoder, allPrompts, { signal: options.signal });
  reportProgress(options.onProgress, { stage: 'uce.encode', step: 1, total: 1, message: `${table.prompts.size} prompts` });
  const { length, width } = table; // T, D

  const eraseBlocks: Float32Array[] = [];
  const anchorBlocks: Float32Array[] = [];
  const selections: UcePromptSelection[] = [];
  resolved.erasePrompts.forEach((prompt, k) => {
    const anchor = resolved.anchorPrompts[k] as string;
    const e = encodedPrompt(table, prompt);
    const a = encodedPrompt(table, anchor);
    if (resolved.version === '2023') {
      const slices = uce2023Slices(e, a, length, width);
      eraseBlocks.push(slices.erase); // [L, D]
      anchorBlocks.push(slices.anchor); // [L, D]
      selections.push({ prompt, anchor, eraseStart: slices.eraseStart, anchorStart: slices.anchorStart, rows: slices.rows });
    } else {
      eraseBlocks.push(lastWordTokenVector(e, length, width)); // [1, D]
      anchorBlocks.push(lastWordTokenVector(a, length, width)); // [1, D]
      selections.push({ prompt, anchor, eraseStart: lastWordTokenIndex(e), anchorStart: lastWordTokenIndex(a), rows: 1 });
    }
  });
  // 2023: all T rows of every preserved prompt; 2025: the last word token only.
  const preserveBlocks = resolved.preservePrompts.map((p) =>
    resolved.version === '2023' ? encodedPrompt(table, p).hidden : lastWordTokenVector(encodedPrompt(table, p), length, width),
  );

  const eraseRows = selections.reduce((n, s) => n + s.rows, 0); // n
  const preserveRows = preserveBlocks.reduce((n, b) => n + b.length / width, 0); // m
  const eraseKeys = hostMatrix(eraseRows, width, concatRows(eraseBlocks)); // C [n, D]
  const anchorKeys = hostMatrix(eraseRows, width, concatRows(anchorBlocks)); // C* [n, D]
  const plan: CrossAttentionEditPlan = {
    eraseKeys,
    targets:
      resolved.technique === 'replace'
        ? { kind: 'anchor', anchorKeys }
        : { kind: 'uce-tensor', anchorKeys, sliceLengths: selections.map((s) => s.rows) },
    ...(preserveRows > 0 ? { preserveKeys: hostMatrix(preserveRows, width, concatRows(preserveBlocks)) } : {}), // P [m, D]
    projections: resolved.projections,
  };

  const weights: ProjectionWeights = new Map();
  try {
    const recording = sites.map((site) => new RecordingSite(site, weights));
    const report = await editCrossAttentionSites(recording, plan, {
      lambda: resolved.lambda,
      eraseScale: resolved.eraseScale,
      preserveScale: resolved.preserveScale,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    throwIfAborted(options.signal, 'uce');
    if (resolved.inPlace) writeProjections(sites, resolved.projections, weights);
    const statistics: UceStatistics = {
      eraseKeyCount: report.eraseCount,
      preserveKeyCount: report.preserveCount,
      prompts: selections,
      projections: report.projections,
    };
    // changedParameters lists what is now in the model: nothing when the edit was only returned (inPlace: false)
    const changedParameters = resolved.inPlace ? projectionParameterNames(weights.keys()) : [];
    return { method: 'uce', weights, options: resolved, statistics, changedParameters, dispose: () => disposeWeights(weights) };
  } catch (error) {
    disposeWeights(weights);
    throw error;
  }
}
