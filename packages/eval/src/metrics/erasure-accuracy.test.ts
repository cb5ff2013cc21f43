import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { intendedClassScore, scoreErasedClass } from './erasure-accuracy';
import type { ClassifiedImage } from './erasure-accuracy';

// A hand-made probability table over K = 3 classes with "cat" erased. Expected values worked out by hand:
//   erased (cat):   rows cat-prob 0.2, 0.6              → mean 40 %;  argmax dog, cat        → top-1 50 %
//   other dog:      dog-prob 0.8, 0.4, 0.9              → mean 70 %;  argmax dog, cat, dog   → top-1 66.67 %
//   other frog:     frog-prob 0.8                       → mean 80 %;  argmax frog            → top-1 100 %
//   synonym (cat):  cat-prob 0.3, 0.5                   → mean 40 %;  argmax frog, cat       → top-1 50 %
//   Acc_s per class: (70 + 80)/2 = 75;   pooled: (0.8+0.4+0.9+0.8)/4 = 72.5
//   Acc_s top-1 per class: (66.67 + 100)/2 = 83.33; pooled 3/4 = 75
//   H_o (mean probability, per class) = 3 / (1/60 + 1/75 + 1/60) = 900/14 = 64.2857…
const classNames = ['cat', 'dog', 'frog'];
const images: ClassifiedImage[] = [
  { role: 'erased', intendedClass: 'cat', probabilities: [0.2, 0.7, 0.1] },
  { role: 'erased', intendedClass: 'cat', probabilities: [0.6, 0.3, 0.1] },
  { role: 'other', intendedClass: 'dog', probabilities: [0.1, 0.8, 0.1] },
  { role: 'other', intendedClass: 'dog', probabilities: [0.5, 0.4, 0.1] },
  { role: 'other', intendedClass: 'dog', probabilities: [0.0, 0.9, 0.1] },
  { role: 'other', intendedClass: 'frog', probabilities: new Float32Array([0.1, 0.1, 0.8]) },
  { role: 'synonym', intendedClass: 'cat', probabilities: [0.3, 0.3, 0.4] },
  { role: 'synonym', intendedClass: 'cat', probabilities: [0.5, 0.25, 0.25] },
];

describe('scoreErasedClass', () => {
  it('mean-probability variant (MACE), per-class averaging', () => {
    const s = scoreErasedClass(images, { classNames, erasedClass: 'cat' });
    expect(s.variant).toBe('meanProbability');
    expect(s.accE).toBeCloseTo(40, 5);
    expect(s.accS).toBeCloseTo(75, 5);
    expect(s.accG).toBeCloseTo(40, 5);
    expect(s.ho).toBeCloseTo(900 / 14, 5);
    expect(s.imageCounts).toEqual({ erased: 2, other: 4, synonym: 2 });
    expect(s.perIntendedClass.map((p) => [p.role, p.intendedClass, p.imageCount])).toEqual([
      ['erased', 'cat', 2],
      ['other', 'dog', 3],
      ['other', 'frog', 1],
      ['synonym', 'cat', 2],
    ]);
    expect(s.perIntendedClass[1]?.score).toBeCloseTo(70, 5);
  });

  it('pooled averaging weighs other-class images equally', () => {
    const s = scoreErasedClass(images, { classNames, erasedClass: 'cat', averaging: 'pooled' });
    expect(s.accS).toBeCloseTo(72.5, 5);
    expect(s.accE).toBeCloseTo(40, 5);
  });

  it('top-1 variant', () => {
    const s = scoreErasedClass(images, { classNames, erasedClass: 'cat', variant: 'top1' });
    expect(s.accE).toBeCloseTo(50, 10);
    expect(s.accS).toBeCloseTo((200 / 3 + 100) / 2, 10);
    expect(s.accG).toBeCloseTo(50, 10);
    const pooled = scoreErasedClass(images, { classNames, erasedClass: 'cat', variant: 'top1', averaging: 'pooled' });
    expect(pooled.accS).toBeCloseTo(75, 10);
  });

  it('does not depend on the order of the images', () => {
    const a = scoreErasedClass(images, { classNames, erasedClass: 'cat' });
    const b = scoreErasedClass([...images].reverse(), { classNames, erasedClass: 'cat' });
    expect(b.accS).toBeCloseTo(a.accS, 12);
    expect(b.perIntendedClass.map((p) => p.intendedClass)).toEqual(a.perIntendedClass.map((p) => p.intendedClass));
  });

  it('accepts logits for top-1 when the sum check is switched off', () => {
    const logits = images.map((im) => ({ ...im, probabilities: Array.from(im.probabilities, (p) => 10 * p - 3) }));
    expect(() => scoreErasedClass(logits, { classNames, erasedClass: 'cat', variant: 'top1' })).toThrow(InvalidOptionError);
    const s = scoreErasedClass(
      logits.map((im) => ({ ...im, probabilities: im.probabilities.map((x) => Math.max(x, 0)) })),
      { classNames, erasedClass: 'cat', variant: 'top1', probabilitySumTolerance: Number.POSITIVE_INFINITY },
    );
    expect(s.accE).toBeCloseTo(50, 10);
  });

  const bad: [string, ClassifiedImage[], Record<string, unknown>][] = [
    ['a row of the wrong length', [{ role: 'erased', intendedClass: 'cat', probabilities: [0.5, 0.5] }], {}],
    ['a row that does not sum to 1', [{ role: 'erased', intendedClass: 'cat', probabilities: [0.5, 0.5, 0.5] }], {}],
    ['a negative probability', [{ role: 'erased', intendedClass: 'cat', probabilities: [1.2, -0.2, 0] }], {}],
    ['a NaN probability', [{ role: 'erased', intendedClass: 'cat', probabilities: [Number.NaN, 0.5, 0.5] }], {}],
    ['an erased image that intends another class', [{ role: 'erased', intendedClass: 'dog', probabilities: [0, 1, 0] }], {}],
    ['an other-class image that intends the erased class', [{ role: 'other', intendedClass: 'cat', probabilities: [1, 0, 0] }], {}],
    ['an unknown intended class', [{ role: 'other', intendedClass: 'newt', probabilities: [0, 1, 0] }], {}],
    ['an unknown role', [{ role: 'preserved' as 'other', intendedClass: 'dog', probabilities: [0, 1, 0] }], {}],
  ];
  it.each(bad)('rejects %s with InvalidOptionError', (_what, extra, options) => {
    expect(() => scoreErasedClass([...images, ...extra], { classNames, erasedClass: 'cat', ...options })).toThrow(InvalidOptionError);
  });

  it('caps a score at 100 when rows exceed 1 within the sum tolerance (H_o stays defined)', () => {
    const over = images.map((im) => (im.role === 'other' ? { ...im, probabilities: im.intendedClass === 'dog' ? [0, 1.0005, 0] : [0, 0, 1.0005] } : im));
    const s = scoreErasedClass(over, { classNames, erasedClass: 'cat' });
    expect(s.accS).toBe(100);
    expect(Number.isFinite(s.ho)).toBe(true);
    const far = [...images, { role: 'erased' as const, intendedClass: 'cat', probabilities: [3, 0, 0] }];
    expect(() => scoreErasedClass(far, { classNames, erasedClass: 'cat', probabilitySumTolerance: 5 })).not.toThrow();
    expect(() => scoreErasedClass(far, { classNames, erasedClass: 'cat', probabilitySumTolerance: 1 })).toThrow(/images\[8\]\.probabilities\[0\]/);
  });

  it('names the offending image and option in the message', () => {
    const withBad = [...images, { role: 'erased' as const, intendedClass: 'cat', probabilities: [0.5, 0.5, 0.5] }];
    expect(() => scoreErasedClass(withBad, { classNames, erasedClass: 'cat' })).toThrow(/images\[8\]\.probabilities/);
  });

  it('rejects a missing role, an unknown erased class and duplicated class names', () => {
    const noSynonyms = images.filter((im) => im.role !== 'synonym');
    expect(() => scoreErasedClass(noSynonyms, { classNames, erasedClass: 'cat' })).toThrow(/role 'synonym'/);
    expect(() => scoreErasedClass(images, { classNames, erasedClass: 'newt' })).toThrow(InvalidOptionError);
    expect(() => scoreErasedClass(images, { classNames: ['cat', 'cat', 'frog'], erasedClass: 'cat' })).toThrow(InvalidOptionError);
    expect(() => scoreErasedClass(images, { classNames, erasedClass: 'cat', variant: 'top5' as 'top1' })).toThrow(InvalidOptionError);
  });
});

describe('intendedClassScore', () => {
  it('breaks top-1 ties towards the lower index', () => {
    expect(intendedClassScore([[0.4, 0.4, 0.2]], 0, 'top1')).toBe(100);
    expect(intendedClassScore([[0.4, 0.4, 0.2]], 1, 'top1')).toBe(0);
  });
  it('is a percentage of the mean probability', () => {
    expect(intendedClassScore([[0.25, 0.75], [0.5, 0.5]], 1, 'meanProbability')).toBeCloseTo(62.5, 12);
  });
  it('rejects no rows and an out-of-range index', () => {
    expect(() => intendedClassScore([], 0, 'top1')).toThrow(InvalidOptionError);
    expect(() => intendedClassScore([[1, 0]], 2, 'top1')).toThrow(InvalidOptionError);
  });
});
