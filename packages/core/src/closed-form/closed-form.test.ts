// Tests of the host-side closed form: hand-worked D = 2 examples, then properties on seeded random problems.
import { describe, expect, it } from 'vitest';
import { EraseError, InvalidOptionError, NotPositiveDefiniteError, ShapeMismatchError } from '../errors/errors';
import { Rng } from '../random/rng';
import { anchorEditFactor, applyEditFactor } from './anchor-factor';
import { hostMatrix, type HostMatrix } from './host-matrix';
import { closedFormEdit, resolveClosedFormOptions } from './key-system';
import { uceTensorTargets } from './uce-targets';

const m = (rows: number, cols: number, values: readonly number[]): HostMatrix => hostMatrix(rows, cols, values);
const random = (rng: Rng, rows: number, cols: number): HostMatrix => hostMatrix(rows, cols, rng.normalArray(rows * cols));

function expectClose(actual: HostMatrix, expected: readonly number[], tolerance: number): void {
  expect(actual.data.length).toBe(expected.length);
  const diffs = Array.from(actual.data, (x, i) => Math.abs(x - (expected[i] as number)));
  const worst = Math.max(...diffs);
  expect(worst, `max abs diff ${worst}: got [${Array.from(actual.data).join(', ')}], want [${expected.join(', ')}]`).toBeLessThan(tolerance);
}

function maxAbsDiff(a: HostMatrix, b: HostMatrix): number {
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return worst;
}

/** W c for each row c of `keys`, written with naive loops (independent of dense.ts): [n, out]. */
function project(weight: HostMatrix, keys: HostMatrix): HostMatrix {
  const out = new Float64Array(keys.rows * weight.rows);
  for (let i = 0; i < keys.rows; i++) {
    for (let o = 0; o < weight.rows; o++) {
      let s = 0;
      for (let d = 0; d < weight.cols; d++) s += (weight.data[o * weight.cols + d] as number) * (keys.data[i * keys.cols + d] as number);
      out[i * weight.rows + o] = s;
    }
  }
  return { rows: keys.rows, cols: weight.rows, data: out };
}

function norm(a: HostMatrix): number {
  return Math.sqrt(Array.from(a.data).reduce((s, x) => s + x * x, 0));
}

function residual(weight: HostMatrix, keys: HostMatrix, targets: HostMatrix): number {
  const p = project(weight, keys);
  return Math.sqrt(Array.from(p.data).reduce((s, x, i) => s + (x - (targets.data[i] as number)) ** 2, 0));
}

/**
 * Gradient of λ‖W'−W‖² + s_e Σ w_i ‖W'c_i − v_i‖² + s_p Σ ‖W'c_j − W c_j‖² at W' (halved), by naive loops:
 * zero exactly at the minimiser, so it checks the solve without re-deriving the formula.
 */
function objectiveGradient(
  edited: HostMatrix,
  weight: HostMatrix,
  erase: HostMatrix,
  targets: HostMatrix,
  preserve: HostMatrix,
  o: { lambda: number; eraseScale: number; preserveScale: number; weights?: readonly number[] },
): HostMatrix {
  const grad = new Float64Array(weight.data.length);
  for (let i = 0; i < grad.length; i++) grad[i] = o.lambda * ((edited.data[i] as number) - (weight.data[i] as number));
  const addTerm = (keys: HostMatrix, wanted: HostMatrix, scale: (row: number) => number): void => {
    const got = project(edited, keys);
    for (let r = 0; r < keys.rows; r++) {
      for (let out = 0; out < weight.rows; out++) {
        const e = scale(r) * ((got.data[r * weight.rows + out] as number) - (wanted.data[r * weight.rows + out] as number));
        for (let d = 0; d < weight.cols; d++) grad[out * weight.cols + d] = (grad[out * weight.cols + d] as number) + e * (keys.data[r * keys.cols + d] as number);
      }
    }
  };
  addTerm(erase, targets, (r) => o.eraseScale * (o.weights?.[r] ?? 1));
  addTerm(preserve, project(weight, preserve), () => o.preserveScale);
  return { rows: weight.rows, cols: weight.cols, data: grad };
}

describe('closedFormEdit: worked examples (D = 2, by hand)', () => {
  // W = [[1,2],[3,4]], erase c = (1,1) → v* = (0,1), preserve c_p = (0,1), λ = s_e = s_p = 1.
  // N = λW + v*cᵀ + (W c_p)c_pᵀ = [[1,2],[3,4]] + [[0,0],[1,1]] + [[0,2],[0,4]] = [[1,4],[4,9]]
  // G = I + ccᵀ + c_pc_pᵀ = [[2,1],[1,3]], det 5, G⁻¹ = [[3,-1],[-1,2]]/5
  // W_new = N G⁻¹ = [[-1,7],[3,14]]/5 = [[-0.2,1.4],[0.6,2.8]]
  const weight = m(2, 2, [1, 2, 3, 4]);
  const eraseKeys = m(1, 2, [1, 1]);
  const preserveKeys = m(1, 2, [0, 1]);
  const options = { lambda: 1, eraseScale: 1, preserveScale: 1 };

  it('general form', () => {
    const edited = closedFormEdit({ weight, eraseKeys, targets: m(1, 2, [0, 1]), preserveKeys }, options);
    expectClose(edited, [-0.2, 1.4, 0.6, 2.8], 1e-12);
  });

  it('a per-row weight of 2 (= erase scale 2)', () => {
    // G = I + 2ccᵀ + c_pc_pᵀ = [[3,2],[2,4]], det 8, G⁻¹ = [[4,-2],[-2,3]]/8
    // N = W + 2v*cᵀ + (Wc_p)c_pᵀ = [[1,4],[5,10]] → N G⁻¹ = [[-4,10],[0,20]]/8
    const want = [-0.5, 1.25, 0, 2.5];
    const targets = m(1, 2, [0, 1]);
    expectClose(closedFormEdit({ weight, eraseKeys, targets, preserveKeys, eraseWeights: [2] }, options), want, 1e-12);
    expectClose(closedFormEdit({ weight, eraseKeys, targets, preserveKeys }, { ...options, eraseScale: 2 }), want, 1e-12);
  });

  it('anchor fast path: M and W·M', () => {
    // c* = (0,1): G* = I + c*cᵀ + c_pc_pᵀ = [[1,0],[1,3]]; M = G* G⁻¹ = [[3,-1],[0,5]]/5
    const anchorKeys = m(1, 2, [0, 1]);
    const factor = anchorEditFactor({ eraseKeys, anchorKeys, preserveKeys }, options);
    expectClose(factor, [0.6, -0.2, 0, 1], 1e-12);
    // W M = [[0.6,1.8],[1.8,3.4]]; the general form with v* = W c* = (2,4) gives N = [[3,6],[7,12]], N G⁻¹ the same.
    expectClose(applyEditFactor(weight, factor), [0.6, 1.8, 1.8, 3.4], 1e-12);
    expectClose(closedFormEdit({ weight, eraseKeys, targets: m(1, 2, [2, 4]), preserveKeys }, options), [0.6, 1.8, 1.8, 3.4], 1e-12);
  });

  it('UCE tensor targets: one token, and a two-token slice (Frobenius inner product)', () => {
    // One row: W c = (1,3), u = (1,3)/√10, W c* = (2,4), ⟨u, Wc*⟩ = 14/√10 → v* = (2,4) − 1.4·(1,3) = (0.6,-0.2)
    expectClose(uceTensorTargets(weight, m(1, 2, [1, 0]), m(1, 2, [0, 1])), [0.6, -0.2], 1e-12);
    // Two rows C_old = I, C* = swap: W C_oldᵀ rows (1,3),(2,4), ‖·‖² = 30; W C*ᵀ rows (2,4),(1,3);
    // ⟨·,·⟩_F = 2+12+2+12 = 28 → V* = W C*ᵀ − (28/30)·W C_oldᵀ = (16,18)/15, (-13,-11)/15.
    const twoRow = uceTensorTargets(weight, m(2, 2, [1, 0, 0, 1]), m(2, 2, [0, 1, 1, 0]));
    expectClose(twoRow, [16 / 15, 18 / 15, -13 / 15, -11 / 15], 1e-12);
    // Two one-row slices are handled independently.
    const sliced = uceTensorTargets(weight, m(2, 2, [1, 0, 1, 0]), m(2, 2, [0, 1, 0, 1]), [1, 1]);
    expectClose(sliced, [0.6, -0.2, 0.6, -0.2], 1e-12);
  });
});

describe('closedFormEdit: properties on random problems', () => {
  const rng = new Rng(20240611);
  const cases = Array.from({ length: 6 }, (_, k) => {
    const dim = 4 + (k % 3);
    const out = 3 + (k % 2);
    const n = 1 + (k % 3);
    const mCount = 1 + ((k + 1) % 3);
    return {
      weight: random(rng, out, dim),
      eraseKeys: random(rng, n, dim),
      anchorKeys: random(rng, n, dim),
      targets: random(rng, n, out),
      preserveKeys: random(rng, mCount, dim),
      weights: Array.from({ length: n }, () => 0.5 + rng.uniform()),
    };
  });

  it('is the minimiser: the objective gradient vanishes (weights, scales, λ varied)', () => {
    for (const [k, c] of cases.entries()) {
      const o = { lambda: [0.5, 0.1, 2][k % 3] as number, eraseScale: 1 + k, preserveScale: 0.3 * (k + 1) };
      const edited = closedFormEdit({ ...c, eraseWeights: c.weights }, o);
      const grad = objectiveGradient(edited, c.weight, c.eraseKeys, c.targets, c.preserveKeys, { ...o, weights: c.weights });
      expect(norm(grad), `case ${k}`).toBeLessThan(1e-10 * (1 + norm(c.weight)));
    }
  });

  it('λ → ∞ leaves W unchanged', () => {
    for (const c of cases) {
      let previous = Infinity;
      for (const lambda of [1, 10, 1e3, 1e6, 1e9]) {
        const distance = maxAbsDiff(closedFormEdit(c, { lambda }), c.weight);
        expect(distance).toBeLessThan(previous);
        previous = distance;
      }
      expect(previous).toBeLessThan(1e-7);
    }
  });

  it('targets equal to W·c leave W unchanged', () => {
    for (const c of cases) {
      const edited = closedFormEdit({ ...c, targets: project(c.weight, c.eraseKeys) }, { lambda: 0.01, eraseScale: 5 });
      expect(maxAbsDiff(edited, c.weight)).toBeLessThan(1e-11);
    }
  });

  it("the erase residual ‖W'c − v*‖ falls monotonically as the erase scale grows", () => {
    for (const c of cases) {
      const scales = [0, 0.1, 0.5, 1, 2, 5, 20, 100];
      const residuals = scales.map((eraseScale) => residual(closedFormEdit(c, { eraseScale }), c.eraseKeys, c.targets));
      expect(residuals[0]).toBeCloseTo(residual(c.weight, c.eraseKeys, c.targets), 10);
      for (let i = 1; i < residuals.length; i++) expect(residuals[i] as number).toBeLessThan(residuals[i - 1] as number);
    }
  });

  it('fast path (W·M) equals the general form with v* = W c*, to 1e-10', () => {
    for (const c of cases) {
      const keys = { eraseKeys: c.eraseKeys, anchorKeys: c.anchorKeys, preserveKeys: c.preserveKeys, eraseWeights: c.weights };
      const o = { lambda: 0.3, eraseScale: 2, preserveScale: 0.5 };
      const fast = applyEditFactor(c.weight, anchorEditFactor(keys, o));
      const general = closedFormEdit({ ...keys, weight: c.weight, targets: project(c.weight, c.anchorKeys) }, o);
      expect(maxAbsDiff(fast, general)).toBeLessThan(1e-10);
    }
  });

  it('UCE tensor targets are Frobenius-orthogonal to W C_old within each slice', () => {
    for (const c of cases) {
      const v = uceTensorTargets(c.weight, c.eraseKeys, c.anchorKeys);
      const u = project(c.weight, c.eraseKeys);
      const inner = Array.from(v.data).reduce((s, x, i) => s + x * (u.data[i] as number), 0);
      expect(Math.abs(inner)).toBeLessThan(1e-12 * (1 + norm(v) * norm(u)));
    }
  });

  it('accepts float32 inputs', () => {
    const c = cases[0]!;
    const f32 = (x: HostMatrix): HostMatrix => ({ rows: x.rows, cols: x.cols, data: Float32Array.from(x.data) });
    const a = closedFormEdit({ weight: f32(c.weight), eraseKeys: f32(c.eraseKeys), targets: f32(c.targets) });
    const b = closedFormEdit({ weight: f32(c.weight), eraseKeys: hostMatrix(c.eraseKeys.rows, c.eraseKeys.cols, Float64Array.from(f32(c.eraseKeys).data)), targets: f32(c.targets) });
    expect(a.data).toBeInstanceOf(Float64Array);
    expect(maxAbsDiff(a, b)).toBe(0);
  });
});

describe('closedFormEdit: errors', () => {
  const rng = new Rng(7);
  const weight = random(rng, 3, 5);
  const eraseKeys = random(rng, 2, 5);
  const targets = random(rng, 2, 3);

  it('λ = 0 with fewer keys than D is not positive definite, naming `lambda`', () => {
    const call = (): unknown => closedFormEdit({ weight, eraseKeys, targets, preserveKeys: random(rng, 2, 5) }, { lambda: 0 });
    expect(call).toThrow(NotPositiveDefiniteError);
    try {
      call();
    } catch (error) {
      expect(NotPositiveDefiniteError.isInstance(error)).toBe(true);
      expect((error as NotPositiveDefiniteError).option).toBe('lambda');
      expect((error as Error).message).toMatch(/lambda/);
    }
  });

  it('λ = 0 with enough keys solves; rank-deficient keys (repeated rows) still raise', () => {
    const many = random(rng, 6, 5);
    expect(() => closedFormEdit({ weight, eraseKeys: many, targets: random(rng, 6, 3) }, { lambda: 0 })).not.toThrow();
    const row = Array.from(random(rng, 1, 5).data);
    const repeated = m(6, 5, [...row, ...row, ...row, ...row, ...row, ...row]);
    expect(() => closedFormEdit({ weight, eraseKeys: repeated, targets: random(rng, 6, 3) }, { lambda: 0 })).toThrow(NotPositiveDefiniteError);
  });

  it('rejects bad options with InvalidOptionError naming the option', () => {
    for (const [option, value] of [
      ['lambda', -1],
      ['lambda', Number.NaN],
      ['lambda', Number.POSITIVE_INFINITY],
      ['lambda', '0.5'],
      ['eraseScale', -0.1],
      ['preserveScale', Number.NaN],
    ] as const) {
      const call = (): unknown => closedFormEdit({ weight, eraseKeys, targets }, { [option]: value } as never);
      expect(call).toThrow(InvalidOptionError);
      expect(call).toThrow(new RegExp(`\`${option}\``));
    }
    expect(resolveClosedFormOptions()).toEqual({ lambda: 0.5, eraseScale: 1, preserveScale: 1 });
  });

  it('rejects mismatched dimensions with ShapeMismatchError', () => {
    expect(() => closedFormEdit({ weight, eraseKeys: random(rng, 2, 4), targets })).toThrow(ShapeMismatchError);
    expect(() => closedFormEdit({ weight, eraseKeys, targets: random(rng, 3, 3) })).toThrow(ShapeMismatchError);
    expect(() => closedFormEdit({ weight, eraseKeys, targets, preserveKeys: random(rng, 2, 6) })).toThrow(ShapeMismatchError);
    expect(() => closedFormEdit({ weight, eraseKeys, targets, eraseWeights: [1] })).toThrow(ShapeMismatchError);
    expect(() => anchorEditFactor({ eraseKeys, anchorKeys: random(rng, 1, 5) })).toThrow(ShapeMismatchError);
    expect(() => applyEditFactor(weight, random(rng, 4, 4))).toThrow(ShapeMismatchError);
    expect(() => hostMatrix(2, 2, [1, 2, 3])).toThrow(ShapeMismatchError);
    expect(() => uceTensorTargets(weight, eraseKeys, eraseKeys, [1])).toThrow(ShapeMismatchError);
  });

  it('rejects non-finite keys, negative weights and an empty slice projection', () => {
    const bad: HostMatrix = { rows: 2, cols: 5, data: Float64Array.from([1, 2, 3, 4, 5, 6, 7, Number.NaN, 9, 10]) };
    expect(() => closedFormEdit({ weight, eraseKeys: bad, targets })).toThrow(/entry \(1, 2\)/);
    expect(() => closedFormEdit({ weight, eraseKeys, targets, eraseWeights: [1, -1] })).toThrow(InvalidOptionError);
    expect(() => uceTensorTargets(weight, m(1, 5, [0, 0, 0, 0, 0]), random(rng, 1, 5))).toThrow(InvalidOptionError);
    try {
      closedFormEdit({ weight, eraseKeys, targets, eraseWeights: [1, -1] });
    } catch (error) {
      expect(EraseError.isInstance(error)).toBe(true);
    }
  });
});
