import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { calibrateRealEraSampler } from './calibration';
import { mineRealEraConcepts } from './neighbour-mining';
import { randomRows, useBackend } from '../test-utils';

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('calibrateRealEraSampler', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('histograms count every proposal, and accepted cosines lie only in bins that meet the band', async () => {
    const n = 2;
    const width = 16;
    const e = tf.tensor2d(Float32Array.from(randomRows(n, width, [1, 4], 3)), [n, width]);
    const bins = 10;
    const report = await calibrateRealEraSampler(e, { attemptsPerVector: 500, bins, seed: 1 });
    for (const sampler of [report.neighbours, report.beyond]) {
      expect(sampler.attempts).toBe(n * 500);
      expect(sum(sampler.cosine.attempted.counts)).toBe(sampler.attempts);
      expect(sum(sampler.radius.attempted.counts)).toBe(sampler.attempts);
      expect(sum(sampler.cosine.accepted.counts)).toBe(sampler.accepted);
      expect(sum(sampler.radius.accepted.counts)).toBe(sampler.accepted);
      expect(sampler.acceptanceRate).toBeCloseTo(sampler.accepted / sampler.attempts, 12);
      expect(sampler.cosine.attempted.counts).toHaveLength(bins);
      expect(sampler.cosine.attempted.edges).toHaveLength(bins + 1);
    }
    // Cosine bins are 0.2 wide over [-1, 1]: [0.3, 0.7] meets bins 6 ([0.2, 0.4)), 7 and 8 ([0.6, 0.8)).
    report.neighbours.cosine.accepted.counts.forEach((count, bin) => {
      if (bin < 6 || bin > 8) expect(count).toBe(0);
    });
    expect(report.neighbours.acceptedCosine.min).toBeGreaterThanOrEqual(0.3);
    expect(report.neighbours.acceptedCosine.max).toBeLessThanOrEqual(0.7);
    expect(report.neighbours.radius.attempted.low).toBe(0);
    expect(report.neighbours.radius.attempted.high).toBe(4);
    expect(report.beyond.radius.attempted.low).toBe(4);
    expect(report.beyond.radius.attempted.high).toBe(8);
    expect(report.beyond.acceptedCosine.max).toBeLessThan(0.3);
    expect(report.radiusUnit).toBe('relative');
    expect(report.erasedNorm.min).toBeCloseTo(1, 5);
    expect(report.erasedNorm.max).toBeCloseTo(4, 5);
    e.dispose();
  });

  it('agrees with the acceptance rate the miner sees', async () => {
    const width = 32;
    const e = tf.tensor2d(Float32Array.from(randomRows(1, width, 2, 5)), [1, width]);
    const report = await calibrateRealEraSampler(e, { attemptsPerVector: 4000, seed: 3 });
    const mined = await mineRealEraConcepts(e, e, { numNeighbours: 600, numBeyond: 0, seed: 9 });
    // Two independent estimates of one probability: standard error < 0.01 each.
    expect(Math.abs(report.neighbours.acceptanceRate - mined.stats.neighbours.acceptanceRate)).toBeLessThan(0.05);
    tf.dispose([mined.neighbours, mined.anchorPartners, mined.beyond, e]);
  });

  // The defaults' documented acceptance rates in D = 768 (options.ts): ≈ 47% for ‖e‖ = 1, ≈ 9% for ‖e‖ = 28,
  // beyond ≈ 100%. The proposal distribution depends only on ‖e‖ and D, so these hold for any direction of e.
  it.each([
    [1, 0.42, 0.53],
    [28, 0.07, 0.115],
  ])('default radii in D = 768 accept at a reasonable rate for ‖e‖ = %d', async (eNorm, low, high) => {
    const e = tf.tensor2d(Float32Array.from(randomRows(1, 768, eNorm, 7)), [1, 768]);
    const report = await calibrateRealEraSampler(e, { attemptsPerVector: 4000, seed: 11 });
    expect(report.neighbours.acceptanceRate).toBeGreaterThan(low);
    expect(report.neighbours.acceptanceRate).toBeLessThan(high);
    expect(report.beyond.acceptanceRate).toBeGreaterThan(0.99);
    // D1 = 4‖e‖ reaches the whole band: accepted cosines come within 0.01 of both of its ends.
    expect(report.neighbours.acceptedCosine.min).toBeLessThan(0.31);
    expect(report.neighbours.acceptedCosine.max).toBeGreaterThan(0.69);
    e.dispose();
  });

  it('rejects bad calibration options, and allocates no tensor', async () => {
    const e = tf.tensor2d(Float32Array.from(randomRows(1, 8, 1, 13)), [1, 8]);
    const before = tf.memory().numTensors;
    await calibrateRealEraSampler(e, { attemptsPerVector: 10 });
    expect(tf.memory().numTensors).toBe(before);
    for (const [options, option] of [
      [{ bins: 0 }, 'bins'],
      [{ attemptsPerVector: 2.5 }, 'attemptsPerVector'],
      [{ cosLow: 0.9 }, 'cosLow'],
      [{ binz: 3 }, 'binz'],
    ] as const) {
      await expect(calibrateRealEraSampler(e, options as Record<string, unknown>)).rejects.toSatisfy(
        (error: unknown) => InvalidOptionError.isInstance(error) && error.option === option,
      );
    }
    e.dispose();
  });
});
