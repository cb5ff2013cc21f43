import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, Rng, SamplingExhaustedError, ShapeMismatchError } from '@erase/core';
import { mineRealEraConcepts } from './neighbour-mining';
import { cosine, norm, randomRows, row, subtract, useBackend } from '../test-utils';

const TOL = 1e-5;

/** [n, D] float32 tensor from float64 rows. */
function slice(data: Float64Array, n: number, width: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(data), [n, width]);
}

async function host(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

function disposeSamples(s: { neighbours: tf.Tensor; anchorPartners: tf.Tensor; beyond: tf.Tensor }): void {
  tf.dispose([s.neighbours, s.anchorPartners, s.beyond]);
}

describe('mineRealEraConcepts', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('every accepted sample satisfies every constraint (per-token, relative radii)', async () => {
    const n = 3;
    const width = 16;
    const norms = [1, 2.5, 0.4];
    const eData = Float32Array.from(randomRows(n, width, norms, 11)); // as the sampler sees it
    const aData = Float32Array.from(randomRows(n, width, [1.5, 0.7, 3], 12));
    const e = tf.tensor2d(eData, [n, width]);
    const a = tf.tensor2d(aData, [n, width]);
    const m = 40;
    const big = 30;
    const result = await mineRealEraConcepts(e, a, { numNeighbours: m, numBeyond: big, seed: 5 });
    expect(result.neighbours.shape).toEqual([m, n, width]);
    expect(result.anchorPartners.shape).toEqual([m, n, width]);
    expect(result.beyond.shape).toEqual([big, n, width]);
    const nb = await host(result.neighbours);
    const ap = await host(result.anchorPartners);
    const by = await host(result.beyond);
    for (let j = 0; j < n; j++) {
      const ej = row(eData, j, width);
      const aj = row(aData, j, width);
      const eNorm = norm(ej);
      const aNorm = norm(aj);
      for (let i = 0; i < m; i++) {
        const x = row(nb, i * n + j, width);
        const eta = subtract(x, ej);
        expect(norm(eta)).toBeLessThanOrEqual(4 * eNorm * (1 + TOL)); // r ≤ D1·‖e‖
        const c = cosine(ej, x);
        expect(c).toBeGreaterThanOrEqual(0.3 - TOL);
        expect(c).toBeLessThanOrEqual(0.7 + TOL);
        const partner = row(ap, i * n + j, width);
        const etaPrime = subtract(partner, aj);
        expect(norm(etaPrime)).toBeLessThanOrEqual(0.5 * aNorm * (1 + TOL)); // r' < D1'·‖e*‖
        // η' = r'·û shares the direction of η = r·û.
        if (norm(etaPrime) > 1e-3 * aNorm) expect(cosine(eta, etaPrime)).toBeGreaterThan(1 - 1e-4);
      }
      for (let i = 0; i < big; i++) {
        const x = row(by, i * n + j, width);
        const radius = norm(subtract(x, ej));
        expect(radius).toBeGreaterThanOrEqual(4 * eNorm * (1 - TOL)); // l ≥ D1·‖e‖
        expect(radius).toBeLessThanOrEqual(8 * eNorm * (1 + TOL)); // l < D2·‖e‖
        expect(cosine(ej, x)).toBeLessThan(0.3 + TOL);
      }
    }
    const stats = result.stats;
    expect(stats.neighbours.accepted).toBe(n * m);
    expect(stats.neighbours.attemptsPerVector).toHaveLength(n);
    expect(stats.neighbours.attempts).toBe(stats.neighbours.attemptsPerVector.reduce((s, x) => s + x, 0));
    expect(stats.neighbours.acceptanceRate).toBeCloseTo((n * m) / stats.neighbours.attempts, 12);
    expect(stats.neighbours.attempts).toBe(n * m + stats.neighbours.rejectedHigh + stats.neighbours.rejectedLow);
    expect(stats.neighbours.cosine.min).toBeGreaterThanOrEqual(0.3);
    expect(stats.neighbours.cosine.max).toBeLessThanOrEqual(0.7);
    expect(stats.neighbours.relativeRadius.max).toBeLessThanOrEqual(4);
    expect(stats.neighbours.anchorRadius.count).toBe(n * m);
    expect(stats.beyond.accepted).toBe(n * big);
    expect(stats.beyond.cosine.max).toBeLessThan(0.3);
    expect(stats.beyond.relativeRadius.min).toBeGreaterThanOrEqual(4);
    expect(stats.options.neighbourRadius).toBe(4);
    disposeSamples(result);
    tf.dispose([e, a]);
  });

  it('absolute radii bound ‖η‖ in embedding units', async () => {
    const width = 32;
    const eData = Float32Array.from(randomRows(1, width, 5, 3));
    const e = tf.tensor2d(eData, [1, width]);
    const options = { radiusMode: 'absolute', neighbourRadius: 15, anchorRadius: 0.25, beyondRadius: 40, numNeighbours: 30, numBeyond: 30 } as const;
    const result = await mineRealEraConcepts(e, e, options);
    const nb = await host(result.neighbours);
    const ap = await host(result.anchorPartners);
    const by = await host(result.beyond);
    for (let i = 0; i < 30; i++) {
      expect(norm(subtract(row(nb, i, width), eData))).toBeLessThanOrEqual(15 * (1 + TOL));
      expect(norm(subtract(row(ap, i, width), eData))).toBeLessThanOrEqual(0.25 * (1 + TOL));
      const l = norm(subtract(row(by, i, width), eData));
      expect(l).toBeGreaterThanOrEqual(15 * (1 - TOL));
      expect(l).toBeLessThanOrEqual(40 * (1 + TOL));
    }
    disposeSamples(result);
    e.dispose();
  });

  it('accepted samples cover the cosine band and the beyond radius range, not only their edges', async () => {
    const width = 768;
    const eData = Float32Array.from(randomRows(1, width, 1, 21));
    const e = tf.tensor2d(eData, [1, width]);
    const count = 400;
    const result = await mineRealEraConcepts(e, e, { numNeighbours: count, numBeyond: count, seed: 2 });
    const nb = await host(result.neighbours);
    const by = await host(result.beyond);
    const subBins = 8;
    const cosineBins = new Array<number>(subBins).fill(0);
    const radiusBins = new Array<number>(subBins).fill(0);
    for (let i = 0; i < count; i++) {
      const c = cosine(eData, row(nb, i, width));
      cosineBins[Math.min(subBins - 1, Math.floor(((c - 0.3) / 0.4) * subBins))]! += 1;
      const l = norm(subtract(row(by, i, width), eData)) / norm(eData);
      radiusBins[Math.min(subBins - 1, Math.floor(((l - 4) / 4) * subBins))]! += 1;
    }
    // Every sub-band of [0.3, 0.7] holds at least 2% of the neighbours; every eighth of [D1, D2) of the beyond radii.
    for (const filled of cosineBins) expect(filled).toBeGreaterThanOrEqual(0.02 * count);
    for (const filled of radiusBins) expect(filled).toBeGreaterThanOrEqual(0.02 * count);
    disposeSamples(result);
    e.dispose();
  });

  it('same seed gives identical samples (on cpu and wasm); different seeds and an advancing rng differ', async () => {
    const n = 2;
    const width = 8;
    const e = slice(randomRows(n, width, 1, 31), n, width);
    const a = slice(randomRows(n, width, 1, 32), n, width);
    const options = { numNeighbours: 5, numBeyond: 5 };
    const first = await mineRealEraConcepts(e, a, { ...options, seed: 7 });
    const second = await mineRealEraConcepts(e, a, { ...options, seed: 7 });
    const other = await mineRealEraConcepts(e, a, { ...options, seed: 8 });
    for (const key of ['neighbours', 'anchorPartners', 'beyond'] as const) {
      expect(Array.from(await host(second[key]))).toEqual(Array.from(await host(first[key])));
      expect(Array.from(await host(other[key]))).not.toEqual(Array.from(await host(first[key])));
    }
    // The wasm backend reads the same inputs, so the stream and the samples are the same.
    const eValues = await e.data();
    const aValues = await a.data();
    await useBackend('wasm');
    const eWasm = tf.tensor2d(eValues as Float32Array, [n, width]);
    const aWasm = tf.tensor2d(aValues as Float32Array, [n, width]);
    const onWasm = await mineRealEraConcepts(eWasm, aWasm, { ...options, seed: 7 });
    const wasmNeighbours = Array.from(await host(onWasm.neighbours));
    disposeSamples(onWasm);
    tf.dispose([eWasm, aWasm]);
    await useBackend('cpu');
    expect(wasmNeighbours).toEqual(Array.from(await host(first.neighbours)));
    // A shared stream advances: two calls give fresh samples.
    const rng = new Rng(7);
    const fresh1 = await mineRealEraConcepts(e, a, { ...options, rng });
    const fresh2 = await mineRealEraConcepts(e, a, { ...options, rng });
    expect(Array.from(await host(fresh2.neighbours))).not.toEqual(Array.from(await host(fresh1.neighbours)));
    // Beyond samples come from their own fork: they do not depend on M.
    const moreNeighbours = await mineRealEraConcepts(e, a, { numNeighbours: 9, numBeyond: 5, seed: 7 });
    expect(Array.from(await host(moreNeighbours.beyond))).toEqual(Array.from(await host(first.beyond)));
    for (const s of [first, second, other, fresh1, fresh2, moreNeighbours]) disposeSamples(s);
    tf.dispose([e, a]);
  });

  it('flattened mode perturbs the whole slice with one direction and keeps the [M, n, D] shape', async () => {
    const n = 3;
    const width = 8;
    const eData = Float32Array.from(randomRows(n, width, [1, 2, 0.5], 41));
    const e = tf.tensor2d(eData, [n, width]);
    const m = 20;
    const result = await mineRealEraConcepts(e, e, { mode: 'flattened', numNeighbours: m, numBeyond: 6, seed: 1 });
    expect(result.neighbours.shape).toEqual([m, n, width]);
    expect(result.beyond.shape).toEqual([6, n, width]);
    const nb = await host(result.neighbours);
    const flat = n * width;
    let perTokenOutsideBand = 0;
    for (let i = 0; i < m; i++) {
      const x = row(nb, i, flat);
      const c = cosine(eData, x);
      expect(c).toBeGreaterThanOrEqual(0.3 - TOL);
      expect(c).toBeLessThanOrEqual(0.7 + TOL);
      expect(norm(subtract(x, eData))).toBeLessThanOrEqual(4 * norm(eData) * (1 + TOL));
      for (let j = 0; j < n; j++) {
        const tokenCos = cosine(row(eData, j, width), row(x, j, width));
        if (tokenCos < 0.3 || tokenCos > 0.7) perTokenOutsideBand++;
      }
    }
    // The band constrains the flattened slice, not each token: some tokens fall outside it.
    expect(perTokenOutsideBand).toBeGreaterThan(0);
    expect(result.stats.neighbours.vectors).toBe(1);
    expect(result.stats.neighbours.attemptsPerVector).toHaveLength(1);
    disposeSamples(result);
    e.dispose();
  });

  it("rescale 'original-norm' keeps directions and sets norms to ‖e‖ / ‖e*‖", async () => {
    const n = 2;
    const width = 16;
    const eData = Float32Array.from(randomRows(n, width, [1, 3], 51));
    const aData = Float32Array.from(randomRows(n, width, [2, 0.5], 52));
    const e = tf.tensor2d(eData, [n, width]);
    const a = tf.tensor2d(aData, [n, width]);
    const options = { numNeighbours: 10, numBeyond: 10, seed: 4 };
    const raw = await mineRealEraConcepts(e, a, options);
    const scaled = await mineRealEraConcepts(e, a, { ...options, rescale: 'original-norm' });
    for (const [key, reference, count] of [
      ['neighbours', eData, 10],
      ['anchorPartners', aData, 10],
      ['beyond', eData, 10],
    ] as const) {
      const r = await host(raw[key]);
      const s = await host(scaled[key]);
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < n; j++) {
          const x = row(r, i * n + j, width);
          const y = row(s, i * n + j, width);
          const target = norm(row(reference, j, width));
          expect(Math.abs(norm(y) - target)).toBeLessThan(1e-5 * target);
          expect(cosine(x, y)).toBeGreaterThan(1 - 1e-6); // same direction as the unscaled sample
        }
      }
    }
    // Rescaling keeps cos(e, ·), so the neighbours are still in the band.
    const s = await host(scaled.neighbours);
    for (let i = 0; i < 10 * n; i++) {
      const c = cosine(row(eData, i % n, width), row(s, i, width));
      expect(c).toBeGreaterThanOrEqual(0.3 - TOL);
      expect(c).toBeLessThanOrEqual(0.7 + TOL);
    }
    disposeSamples(raw);
    disposeSamples(scaled);
    tf.dispose([e, a]);
  });

  it('runs out of attempts with a typed error that reports the rate and the option to change', async () => {
    const e = slice(randomRows(2, 16, 1, 61), 2, 16);
    // Radii far too short: cos(e, e + η) ≈ 1 > cosHigh for every proposal.
    const short = mineRealEraConcepts(e, e, { neighbourRadius: 0.01, beyondRadius: 8, maxAttempts: 50 });
    await expect(short).rejects.toSatisfy((error: unknown) => {
      if (!SamplingExhaustedError.isInstance(error)) return false;
      return (
        error.accepted === 0 &&
        error.attempts === 50 &&
        error.acceptanceRate === 0 &&
        error.message.includes('token 0 of 2') &&
        error.message.includes('raise `neighbourRadius`') &&
        error.message.includes('0.000%')
      );
    });
    // A reachable band but too few attempts: a partial count and its rate.
    let caught: unknown;
    try {
      await mineRealEraConcepts(e, e, { numNeighbours: 1000, maxAttempts: 200 });
    } catch (error) {
      caught = error;
    }
    expect(SamplingExhaustedError.isInstance(caught)).toBe(true);
    const partial = caught as SamplingExhaustedError;
    expect(partial.attempts).toBe(200);
    expect(partial.accepted).toBeGreaterThan(0);
    expect(partial.accepted).toBeLessThan(1000);
    expect(partial.acceptanceRate).toBeCloseTo(partial.accepted / 200, 12);
    expect(partial.message).toContain(`${((partial.accepted / 200) * 100).toFixed(3)}%`);
    expect(partial.message).toContain('maxAttempts');
    // Beyond: a cosine bound no proposal reaches.
    await expect(mineRealEraConcepts(e, e, { cosLow: -0.999, cosHigh: 0.7, neighbourRadius: 4, numNeighbours: 0, maxAttempts: 30 })).rejects.toSatisfy(
      (error: unknown) => SamplingExhaustedError.isInstance(error) && error.message.includes('beyond-concept') && error.message.includes('`beyondRadius`'),
    );
    e.dispose();
  });

  it('rejects bad options and inputs with typed errors', async () => {
    const e = slice(randomRows(2, 4, 1, 71), 2, 4);
    const bad: [Record<string, unknown>, string][] = [
      [{ cosLow: 0.7, cosHigh: 0.3 }, 'cosLow'],
      [{ cosLow: 0.5, cosHigh: 0.5 }, 'cosLow'],
      [{ cosHigh: 1.5 }, 'cosHigh'],
      [{ cosLow: Number.NaN }, 'cosLow'],
      [{ cosLow: -1, numBeyond: 3 }, 'cosLow'], // no beyond sample can have cos < −1
      [{ neighbourRadius: 0 }, 'neighbourRadius'],
      [{ beyondRadius: 3 }, 'beyondRadius'],
      [{ cosHigh: 0.2 }, 'cosHigh'], // only the upper end given: it is the one named
      [{ neighbourRadius: 8 }, 'neighbourRadius'], // only D1 given, at the default D2
      [{ neighbourRadius: 8, beyondRadius: 6 }, 'beyondRadius'],
      [{ anchorRadius: -1 }, 'anchorRadius'],
      [{ numNeighbours: 1.5 }, 'numNeighbours'],
      [{ numBeyond: -1 }, 'numBeyond'],
      [{ maxAttempts: 0 }, 'maxAttempts'],
      [{ mode: 'tokens' }, 'mode'],
      [{ radiusMode: 'percent' }, 'radiusMode'],
      [{ rescale: 'unit' }, 'rescale'],
      [{ numNeighbors: 3 }, 'numNeighbors'],
      [{ seed: 0.5 }, 'seed'],
      [{ rng: {} }, 'rng'],
      [{ numNeighbours: 2 ** 26 }, 'numNeighbours'],
    ];
    for (const [options, option] of bad) {
      await expect(mineRealEraConcepts(e, e, options)).rejects.toSatisfy(
        (error: unknown) => InvalidOptionError.isInstance(error) && error.option === option,
      );
    }
    const wrongAnchor = tf.zeros([3, 4]);
    await expect(mineRealEraConcepts(e, wrongAnchor)).rejects.toSatisfy((error: unknown) => ShapeMismatchError.isInstance(error));
    const flat = tf.zeros([4]);
    await expect(mineRealEraConcepts(flat, flat)).rejects.toSatisfy((error: unknown) => ShapeMismatchError.isInstance(error));
    const zeroRow = tf.tensor2d([1, 0, 0, 0, 0, 0, 0, 0], [2, 4]);
    await expect(mineRealEraConcepts(zeroRow, zeroRow)).rejects.toSatisfy(
      (error: unknown) => InvalidOptionError.isInstance(error) && error.message.includes('token row 1'),
    );
    const withNaN = tf.tensor2d([1, Number.NaN, 0, 0], [1, 4]);
    await expect(mineRealEraConcepts(withNaN, withNaN)).rejects.toSatisfy((error: unknown) => InvalidOptionError.isInstance(error));
    tf.dispose([e, wrongAnchor, flat, zeroRow, withNaN]);
  });

  it('leaks no tensor: returns exactly three, and none on failure', async () => {
    const e = slice(randomRows(2, 8, 1, 81), 2, 8);
    const before = tf.memory().numTensors;
    const result = await mineRealEraConcepts(e, e, { numNeighbours: 3, numBeyond: 2 });
    expect(tf.memory().numTensors).toBe(before + 3);
    disposeSamples(result);
    expect(tf.memory().numTensors).toBe(before);
    // fails while sampling (after allocating), not at validation
    await expect(mineRealEraConcepts(e, e, { neighbourRadius: 0.01, maxAttempts: 5 })).rejects.toSatisfy((x: unknown) => SamplingExhaustedError.isInstance(x));
    expect(tf.memory().numTensors).toBe(before);
    expect(e.isDisposed).toBe(false);
    e.dispose();
  });
});
