/**
 * A word-level erasure for measuring concept residue: the UCE closed form (core's `editCrossAttentionSites`,
 * methods.md §1, technique `replace`) on every `attn2.to_k` / `attn2.to_v`, with UCE 2023's token selection
 * (uce-token-slices.ts), plus the snapshot/restore of the projections and the cheap residue predictor of
 * docs/shapes-world.md.
 *
 * Notation (methods.md): E_p [T, D] the encoder output of prompt p; C [L, D] the erase prompt's rows from its word
 * to the end, A [L, D] the anchor's aligned rows, P [m·T, D] every row of the preserved prompts; W [out, D] one
 * projection, W′ its edited value. The edit solves
 *   W′ = argmin λ‖W′ − W‖² + s_e Σ_i ‖W′c_i − W a_i‖² + s_p Σ_j ‖W′p_j − W p_j‖².
 * Residue predictor for a prompt q with aligned rows H_q [L, D] (its slice) and H_a (the anchor's):
 *   ρ_q = √(Σ_W ‖H_q W′ᵀ − H_a Wᵀ‖²_F) / √(Σ_W ‖H_q Wᵀ − H_a Wᵀ‖²_F)      (sums over all edited projections)
 * — the share of its distance to the anchor's keys/values that q keeps after the edit (1: untouched, 0: mapped
 * onto the anchor). Measured on the prototype: synonyms with ρ ≥ 0.40 survived, ρ ≤ 0.15 were erased.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  editCrossAttentionSites,
  InvalidOptionError,
  type CrossAttentionEditReport,
  type CrossAttentionSite,
  type HostMatrix,
  type ProjectionName,
  type TextEncoder,
} from '@erase/core';
import { sliceRows, uceTokenSlices, type UceTokenSlices } from './uce-token-slices';

const PROJECTIONS: readonly ProjectionName[] = ['to_k', 'to_v'];

/** The prompts of one word-level erasure. */
export interface WordErasurePrompts {
  /** The prompt whose concept word is erased, e.g. "a photo of the circle". */
  readonly erasePrompt: string;
  /** The anchor the word is mapped to (default " "). */
  readonly anchorPrompt: string;
  /** Prompts whose every token is preserved, e.g. the other classes' prompts. */
  readonly preservePrompts: readonly string[];
  /** Extra prompts whose slices (aligned with the anchor like the erase prompt) are returned for the predictor. */
  readonly probePrompts?: readonly string[];
}

/** Host keys of one erasure (float64, row-major). */
export interface WordErasureKeys {
  /** C [L, D]. */
  readonly eraseKeys: HostMatrix;
  /** A [L, D], row-aligned with C. */
  readonly anchorKeys: HostMatrix;
  /** P [m·T, D] (absent when no prompt is preserved). */
  readonly preserveKeys?: HostMatrix;
  readonly slices: UceTokenSlices;
  /** Per probe prompt: its slice H_q and the anchor rows H_a aligned with it (each [L_q, D]). */
  readonly probes: readonly { readonly prompt: string; readonly keys: HostMatrix; readonly anchorKeys: HostMatrix }[];
}

/**
 * Encodes the prompts once and cuts the UCE 2023 slices. No tensor outlives the call.
 * @throws InvalidOptionError for an empty erase or anchor prompt list entry; errors of the encoder.
 */
export async function wordErasureKeys(textEncoder: TextEncoder, prompts: WordErasurePrompts): Promise<WordErasureKeys> {
  const probes = prompts.probePrompts ?? [];
  const all = [prompts.erasePrompt, prompts.anchorPrompt, ...prompts.preservePrompts, ...probes];
  const tokenized = textEncoder.tokenize(all);
  const t = textEncoder.maxLength;
  const d = textEncoder.hiddenSize;
  const encoded = textEncoder.encodePrompts(all); // [N, T, D]
  let values: Float32Array;
  try {
    values = (await encoded.data()) as Float32Array;
  } finally {
    encoded.dispose();
  }
  const row = (n: number): Float32Array => values.subarray(n * t * d, (n + 1) * t * d); // [T, D]
  const length = (n: number): number => tokenized.lengths[n] as number;
  const slices = uceTokenSlices(length(0), length(1), t);
  const eraseKeys = { rows: slices.length, cols: d, data: sliceRows(row(0), d, slices.eraseStart, slices.length) };
  const anchorKeys = { rows: slices.length, cols: d, data: sliceRows(row(1), d, slices.anchorStart, slices.length) };
  let preserveKeys: HostMatrix | undefined;
  if (prompts.preservePrompts.length > 0) {
    const m = prompts.preservePrompts.length;
    preserveKeys = { rows: m * t, cols: d, data: Float64Array.from(values.subarray(2 * t * d, (2 + m) * t * d)) };
  }
  const probeKeys = probes.map((prompt, j) => {
    const n = 2 + prompts.preservePrompts.length + j;
    const s = uceTokenSlices(length(n), length(1), t);
    return {
      prompt,
      keys: { rows: s.length, cols: d, data: sliceRows(row(n), d, s.eraseStart, s.length) },
      anchorKeys: { rows: s.length, cols: d, data: sliceRows(row(1), d, s.anchorStart, s.length) },
    };
  });
  return { eraseKeys, anchorKeys, ...(preserveKeys ? { preserveKeys } : {}), slices, probes: probeKeys };
}

/** The closed-form weights (methods.md §1). */
export interface WordErasureWeights {
  /** λ (ridge). */
  readonly lambda: number;
  /** s_e. */
  readonly eraseScale: number;
  /** s_p. */
  readonly preserveScale: number;
}

/**
 * Applies the edit to every `to_k` / `to_v` of `sites` (targets: the anchor keys through the original W).
 * @throws as `editCrossAttentionSites` (the sites are unchanged when it throws).
 */
export async function eraseWord(sites: readonly CrossAttentionSite[], keys: WordErasureKeys, weights: WordErasureWeights): Promise<CrossAttentionEditReport> {
  if (sites.length === 0) throw new InvalidOptionError({ option: 'sites', expected: 'at least one cross-attention site', received: sites });
  return editCrossAttentionSites(
    sites,
    {
      eraseKeys: keys.eraseKeys,
      targets: { kind: 'anchor', anchorKeys: keys.anchorKeys },
      ...(keys.preserveKeys ? { preserveKeys: keys.preserveKeys } : {}),
      projections: PROJECTIONS,
    },
    weights,
  );
}

/** Host copies of every `to_k` / `to_v`, keyed `${path}.${projection}` ([out, D] row-major). */
export type ProjectionSnapshot = ReadonlyMap<string, { readonly site: CrossAttentionSite; readonly projection: ProjectionName; readonly weight: HostMatrix }>;

/** Reads every `to_k` / `to_v` of `sites` to the host. No tensor outlives the call. */
export async function snapshotProjections(sites: readonly CrossAttentionSite[]): Promise<ProjectionSnapshot> {
  const snapshot = new Map<string, { site: CrossAttentionSite; projection: ProjectionName; weight: HostMatrix }>();
  for (const site of sites) {
    for (const projection of PROJECTIONS) {
      const tensor = site.readProjection(projection); // [out, D]
      try {
        const data = Float32Array.from((await tensor.data()) as Float32Array);
        snapshot.set(`${site.path}.${projection}`, { site, projection, weight: { rows: tensor.shape[0], cols: tensor.shape[1], data } });
      } finally {
        tensor.dispose();
      }
    }
  }
  return snapshot;
}

/** Writes every projection of `snapshot` back to its site. */
export function restoreProjections(snapshot: ProjectionSnapshot): void {
  for (const { site, projection, weight } of snapshot.values()) {
    const tensor = tf.tensor2d(weight.data as Float32Array, [weight.rows, weight.cols], 'float32'); // [out, D]
    try {
      site.writeProjection(projection, tensor);
    } finally {
      tensor.dispose();
    }
  }
}

/** Whether every projection of the sites equals `snapshot` bit for bit. */
export async function projectionsEqual(snapshot: ProjectionSnapshot): Promise<boolean> {
  for (const { site, projection, weight } of snapshot.values()) {
    const tensor = site.readProjection(projection); // [out, D]
    try {
      const data = (await tensor.data()) as Float32Array;
      if (data.length !== weight.data.length) return false;
      for (let i = 0; i < data.length; i++) if (data[i] !== weight.data[i]) return false;
    } finally {
      tensor.dispose();
    }
  }
  return true;
}

/**
 * ρ of every probe (see the file comment): `before` = the projections before the edit, `after` = after it (same keys).
 * @throws InvalidOptionError when the snapshots hold different projections or shapes.
 */
export function residueRatios(keys: WordErasureKeys, before: ProjectionSnapshot, after: ProjectionSnapshot): { prompt: string; ratio: number }[] {
  if (before.size !== after.size) {
    throw new InvalidOptionError({ option: 'after', expected: `${before.size} projections as in 'before'`, received: after.size });
  }
  return keys.probes.map((probe) => {
    let kept = 0;
    let original = 0;
    for (const [key, { weight }] of before) {
      const edited = after.get(key)?.weight;
      if (!edited || edited.rows !== weight.rows || edited.cols !== weight.cols) {
        throw new InvalidOptionError({ option: 'after', expected: `projection ${key} of shape [${weight.rows}, ${weight.cols}]`, received: edited ? [edited.rows, edited.cols] : 'missing' });
      }
      const anchorOut = projectRows(probe.anchorKeys, weight); // [L, D] x [out, D]ᵀ -> [L, out]
      const originalOut = projectRows(probe.keys, weight); // [L, out]
      const editedOut = projectRows(probe.keys, edited); // [L, out]
      for (let i = 0; i < anchorOut.length; i++) {
        kept += ((editedOut[i] as number) - (anchorOut[i] as number)) ** 2;
        original += ((originalOut[i] as number) - (anchorOut[i] as number)) ** 2;
      }
    }
    return { prompt: probe.prompt, ratio: original > 0 ? Math.sqrt(kept / original) : Number.NaN };
  });
}

/** X Wᵀ for host matrices X [n, D], W [out, D] → [n, out] row-major (float64). */
function projectRows(x: HostMatrix, w: HostMatrix): Float64Array {
  const out = new Float64Array(x.rows * w.rows);
  for (let i = 0; i < x.rows; i++) {
    for (let o = 0; o < w.rows; o++) {
      let sum = 0;
      for (let k = 0; k < x.cols; k++) sum += (x.data[i * x.cols + k] as number) * (w.data[o * w.cols + k] as number);
      out[i * w.rows + o] = sum;
    }
  }
  return out;
}
