// RealEra's closed form (eq. 7 with UCE's ridge) against the normal equations written out here in float64:
//   W_new (λI + Σ_i w_i e_i e_iᵀ + λ1 Σ_j w_j e_j e_jᵀ) = λW + Σ_i w_i (W e*_i) e_iᵀ + λ1 Σ_j w_j (W e_j) e_jᵀ
// with i over the erased rows (the concept's own, w = 1, and its mined neighbours paired with their anchor partners,
// w = neighbourWeight) and j over the preserved rows (every prompt row, w = 1, and the beyond samples,
// w = beyondWeight). Hand-made mined samples, so nothing here depends on the sampler.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, type ProjectionName } from '@erase/core';
import type { RealEraSamplingStats } from '@erase/sampling';
import { VariableSite } from '../../test/fakes/variable-site';
import { realEraClosedForm } from './closed-form-stage';
import type { ConceptSlices } from './concept-slices';
import type { MinedSamples } from './mining-stage';
import type { ResolvedRealEraOptions } from './options';

const D = 5; // text width
const OUT = 4; // to_k / to_v rows
const T = 3; // rows of a preserved prompt
const L = [2, 1]; // erased rows of concept 0 and 1
const M = 3; // neighbours of concept 0 (concept 1 has no mined samples)
const N = 2; // beyond samples of concept 0

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const values = (rng: Rng, n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => scale * rng.normal());
const rowsOf = (data: Float32Array): number[][] => Array.from({ length: data.length / D }, (_, r) => Array.from(data.subarray(r * D, (r + 1) * D)));

/** X with X·A = B for a symmetric positive definite A [D, D] and B [OUT, D] (Gauss–Jordan on Aᵀ = A, float64). */
function rightDivide(b: number[][], a: number[][]): number[][] {
  return b.map((row) => {
    const m = a.map((r, i) => [...r, row[i] as number]); // solve A x = bᵀ (A symmetric)
    for (let c = 0; c < D; c++) {
      let p = c;
      for (let r = c + 1; r < D; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
      [m[c], m[p]] = [m[p]!, m[c]!];
      for (let r = 0; r < D; r++) {
        if (r === c) continue;
        const f = m[r]![c]! / m[c]![c]!;
        for (let k = c; k <= D; k++) m[r]![k]! -= f * m[c]![k]!;
      }
    }
    return m.map((r, i) => r[D]! / r[i]!);
  });
}

const matVec = (w: number[][], v: number[]): number[] => w.map((row) => row.reduce((s, x, k) => s + x * v[k]!, 0));

describe('realEraClosedForm', () => {
  const rng = new Rng(7);
  const concepts: ConceptSlices[] = L.map((rows, k) => ({
    prompt: `concept ${k}`,
    anchor: 'anchor',
    eraseStart: 1,
    anchorStart: 1,
    rows,
    erase: values(rng, rows * D), // e [L, D]
    anchorSlice: values(rng, rows * D), // e* [L, D]
    context: new Float32Array(T * D),
    anchorContext: new Float32Array(T * D),
  }));
  const mined: (MinedSamples | undefined)[] = [
    {
      neighbourCount: M,
      beyondCount: N,
      neighbours: values(rng, M * (L[0] as number) * D, 2), // [M, L, D]
      anchorPartners: values(rng, M * (L[0] as number) * D), // [M, L, D]
      beyond: values(rng, N * (L[0] as number) * D, 3), // [N, L, D]
      stats: {} as RealEraSamplingStats,
    },
    undefined,
  ];
  const preserve = [values(rng, T * D), values(rng, T * D)]; // two prompts [T, D]
  const original: Record<ProjectionName, Float32Array> = { to_k: values(rng, OUT * D), to_v: values(rng, OUT * D) };

  /** The normal equations above for one projection, float64. */
  function expected(w0: Float32Array, options: ResolvedRealEraOptions['closedForm']): number[][] {
    const w = Array.from({ length: OUT }, (_, o) => Array.from(w0.subarray(o * D, (o + 1) * D)));
    const erase: { e: number[]; target: number[]; weight: number }[] = [];
    const kept: { e: number[]; weight: number }[] = [];
    concepts.forEach((c, k) => {
      rowsOf(c.erase).forEach((e, r) => erase.push({ e, target: rowsOf(c.anchorSlice)[r] as number[], weight: 1 }));
      const s = mined[k];
      if (!s || !options.useMinedSamples) return;
      rowsOf(s.neighbours).forEach((e, r) => erase.push({ e, target: rowsOf(s.anchorPartners)[r] as number[], weight: options.neighbourWeight }));
      rowsOf(s.beyond).forEach((e) => kept.push({ e, weight: options.beyondWeight }));
    });
    for (const p of preserve) rowsOf(p).forEach((e) => kept.push({ e, weight: 1 }));
    const lhs = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => (i === j ? options.lambda : 0)));
    const rhs = w.map((row) => row.map((x) => options.lambda * x));
    const add = (e: number[], target: number[], weight: number): void => {
      const we = matVec(w, target); // W e* (or W e for a kept row)
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) lhs[i]![j]! += weight * e[i]! * e[j]!;
      for (let o = 0; o < OUT; o++) for (let j = 0; j < D; j++) rhs[o]![j]! += weight * we[o]! * e[j]!;
    };
    for (const r of erase) add(r.e, r.target, r.weight);
    for (const r of kept) add(r.e, r.e, options.preserveWeight * r.weight);
    return rightDivide(rhs, lhs);
  }

  async function edited(options: ResolvedRealEraOptions['closedForm']) {
    const toK = tf.tensor2d(original.to_k, [OUT, D]);
    const toV = tf.tensor2d(original.to_v, [OUT, D]);
    const site = new VariableSite('attn2', 1, toK, toV); // copies them
    tf.dispose([toK, toV]);
    try {
      const stats = await realEraClosedForm([site], concepts, mined, preserve, D, options, {});
      const out: Record<ProjectionName, Float32Array> = { to_k: site.weights.to_k.dataSync() as Float32Array, to_v: site.weights.to_v.dataSync() as Float32Array };
      return { stats, out: { to_k: Float32Array.from(out.to_k), to_v: Float32Array.from(out.to_v) } };
    } finally {
      site.dispose();
    }
  }

  const base: ResolvedRealEraOptions['closedForm'] = { lambda: 0.5, preserveWeight: 0.1, neighbourWeight: 0.7, beyondWeight: 1.3, useMinedSamples: true, projections: ['to_k', 'to_v'] };

  for (const [name, options] of [
    ['with mined samples (neighbour and beyond weights, λ1, ridge)', base],
    ['without mined samples (useMinedSamples: false)', { ...base, useMinedSamples: false }],
    ['with λ1 = 1 and no ridge', { ...base, preserveWeight: 1, lambda: 0 }],
  ] as const) {
    it(`solves the normal equations ${name} (rtol 1e-4), leaking no tensors`, async () => {
      const before = tf.memory().numTensors;
      const { stats, out } = await edited(options);
      expect(tf.memory().numTensors).toBe(before);
      const withMined = options.useMinedSamples;
      expect(stats.eraseKeyCount).toBe((L[0] as number) + (L[1] as number) + (withMined ? M * (L[0] as number) : 0));
      expect(stats.beyondKeyCount).toBe(withMined ? N * (L[0] as number) : 0);
      expect(stats.preserveKeyCount).toBe(2 * T + (withMined ? N * (L[0] as number) : 0));
      for (const projection of ['to_k', 'to_v'] as const) {
        const want = expected(original[projection], options).flat();
        const scale = Math.max(...want.map(Math.abs));
        const got = Array.from(out[projection]);
        got.forEach((g, i) => expect(Math.abs(g - (want[i] as number))).toBeLessThan(1e-4 * scale));
        // the edit moved the weights (so agreement above is not W = W_org on both sides)
        expect(Math.max(...got.map((g, i) => Math.abs(g - (original[projection][i] as number))))).toBeGreaterThan(1e-2);
      }
    });
  }
});
