import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { erasingSuccessRate, preservingSuccessRate, rankClasses, topKHitRate } from './success-rate';

// Hand cases. Erased-class images (label = what the prompt named):
//   1. church    ranked [temple, church, …]       top-1 miss, top-2 hit
//   2. church    ranked [church, …]               hit at every k
//   3. parachute ranked [kite, umbrella, balloon] miss at k ≤ 3
//   4. parachute ranked [kite, parachute, …]      top-1 miss, top-2 hit
// ESR-1 = 3/4 not found = 75 %; ESR-2 = 1/4 = 25 %; ESR-3 = 25 %.
const erased = [
  { label: 'church', ranked: ['temple', 'church', 'monastery'] },
  { label: 'church', ranked: ['church', 'temple', 'dome'] },
  { label: 'parachute', ranked: ['kite', 'umbrella', 'balloon'] },
  { label: 'parachute', ranked: ['kite', 'parachute', 'umbrella'] },
];
// Preserved-class images: 1 of 3 at top-1, 2 of 3 within top-2 → PSR-1 = 33.33 %, PSR-2 = 66.67 %.
const preserved = [
  { label: 'tench', ranked: ['tench', 'goldfish'] },
  { label: 'golf ball', ranked: ['tennis ball', 'golf ball'] },
  { label: 'gas pump', ranked: ['atm', 'vending machine'] },
];

describe('ESR-k / PSR-k', () => {
  it('erasing success rate counts images whose label is not in the top-k', () => {
    expect(erasingSuccessRate(erased, 1)).toBe(75);
    expect(erasingSuccessRate(erased, 2)).toBe(25);
    expect(erasingSuccessRate(erased, 3)).toBe(25);
  });
  it('preserving success rate counts images whose label is in the top-k', () => {
    expect(preservingSuccessRate(preserved, 1)).toBeCloseTo(100 / 3, 12);
    expect(preservingSuccessRate(preserved, 2)).toBeCloseTo(200 / 3, 12);
  });
  it('ESR-k + top-k hit rate = 100', () => {
    for (const k of [1, 2, 3]) expect(erasingSuccessRate(erased, k) + topKHitRate(erased, k)).toBe(100);
  });
  it('rejects k < 1, a ranking shorter than k, repeated labels and no predictions', () => {
    expect(() => erasingSuccessRate(erased, 0)).toThrow(InvalidOptionError);
    expect(() => erasingSuccessRate(erased, 1.5)).toThrow(InvalidOptionError);
    expect(() => preservingSuccessRate(preserved, 3)).toThrow(/at least k = 3/);
    expect(() => topKHitRate([{ label: 'a', ranked: ['b', 'b', 'a'] }], 2)).toThrow(InvalidOptionError);
    expect(() => topKHitRate([], 1)).toThrow(InvalidOptionError);
  });
});

describe('rankClasses', () => {
  it('orders by probability, ties by index', () => {
    expect(rankClasses([0.1, 0.5, 0.1, 0.3], ['a', 'b', 'c', 'd'])).toEqual(['b', 'd', 'a', 'c']);
  });
  it('feeds topKHitRate', () => {
    const ranked = rankClasses(new Float32Array([0.2, 0.3, 0.5]), ['x', 'y', 'z']);
    expect(topKHitRate([{ label: 'y', ranked }], 1)).toBe(0);
    expect(topKHitRate([{ label: 'y', ranked }], 2)).toBe(100);
  });
  it('rejects a length mismatch and NaN', () => {
    expect(() => rankClasses([0.5, 0.5], ['a'])).toThrow(InvalidOptionError);
    expect(() => rankClasses([Number.NaN, 0.5], ['a', 'b'])).toThrow(InvalidOptionError);
  });
});
