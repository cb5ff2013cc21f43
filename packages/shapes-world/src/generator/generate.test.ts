// Tests of the procedural generator: determinism, consistent labels and captions, ranges, and option errors.
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { BACKGROUNDS, CAPTION_TEMPLATES, CLASS_NAMES, FILL_COLORS, SHAPE_CLASSES, classOfWord } from '../world/vocabulary';
import { generateClassImages, generateShapes } from './generate';

const SIZE = 24;

describe('generateShapes', () => {
  it('is deterministic: the same seed gives identical bytes, another seed different ones', () => {
    const a = generateShapes({ count: 200, seed: 7 });
    const b = generateShapes({ count: 200, seed: 7 });
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(Array.from(b.colors)).toEqual(Array.from(a.colors));
    expect(Array.from(b.backgrounds)).toEqual(Array.from(a.backgrounds));
    expect(b.captions).toEqual(a.captions);
    const c = generateShapes({ count: 200, seed: 8 });
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(c.images.buffer))).toBe(false);
    expect(Array.from(c.labels)).not.toEqual(Array.from(a.labels));
    // a prefix of a longer batch is the shorter batch (images are drawn one after another from one stream)
    const longer = generateShapes({ count: 300, seed: 7 });
    expect(Buffer.from(longer.images.buffer, 0, a.images.byteLength).equals(Buffer.from(a.images.buffer))).toBe(true);
  });

  it('returns NHWC float32 values in [-1, 1] with the documented shapes', () => {
    const batch = generateShapes({ count: 100, seed: 1 });
    expect(batch.shape).toEqual([100, SIZE, SIZE, 3]);
    expect(batch.images.length).toBe(100 * SIZE * SIZE * 3);
    expect(batch.labels.length).toBe(100);
    expect(batch.captions.length).toBe(100);
    let min = Infinity;
    let max = -Infinity;
    for (const v of batch.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(-1);
    expect(max).toBeLessThanOrEqual(1);
    expect(min).toBe(-1); // black backgrounds occur in 100 images (P(no black) = 0.75^100)
    expect(max).toBe(1); // so do white ones
  });

  it('draws every attribute in range, and radii/centres keep the shape inside the frame', () => {
    const batch = generateShapes({ count: 2000, seed: 2 });
    const seen = { labels: new Set<number>(), colors: new Set<number>(), backgrounds: new Set<number>() };
    for (let n = 0; n < 2000; n++) {
      seen.labels.add(batch.labels[n] as number);
      seen.colors.add(batch.colors[n] as number);
      seen.backgrounds.add(batch.backgrounds[n] as number);
      const r = batch.radii[n] as number;
      expect(r).toBeGreaterThanOrEqual(0.28 * SIZE - 1e-5);
      expect(r).toBeLessThan(0.42 * SIZE + 1e-5);
      for (const centre of [batch.centers[2 * n] as number, batch.centers[2 * n + 1] as number]) {
        expect(centre).toBeGreaterThanOrEqual(0.78 * r - 1e-4); // the smallest extent of any shape is the square's 0.78
        expect(centre).toBeLessThanOrEqual(SIZE - 0.78 * r + 1e-4);
      }
    }
    expect([...seen.labels].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen.colors.size).toBe(FILL_COLORS.length);
    expect(seen.backgrounds.size).toBe(BACKGROUNDS.length);
  });

  it('every caption names its own class (class word or one of its synonyms) and its own colour/background', () => {
    const batch = generateShapes({ count: 3000, seed: 3 });
    let classWords = 0;
    const templatesSeen = new Set<string>();
    batch.captions.forEach((caption, n) => {
      const label = batch.labels[n] as number;
      const words = caption.split(' ');
      const shapeWords = words.filter((w) => classOfWord(w) !== undefined);
      expect(shapeWords.length, caption).toBe(1);
      const word = shapeWords[0] as string;
      const shape = SHAPE_CLASSES[label]!;
      expect([shape.name, ...shape.synonyms], caption).toContain(word);
      if (word === shape.name) classWords++;
      const colorName = FILL_COLORS[batch.colors[n] as number]!.name;
      const backgroundName = BACKGROUNDS[batch.backgrounds[n] as number]!.name;
      for (const w of words) {
        if (FILL_COLORS.some((c) => c.name === w)) expect(w, caption).toBe(colorName);
        if (BACKGROUNDS.some((b) => b.name === w)) expect(w, caption).toBe(backgroundName);
      }
      templatesSeen.add(caption.replace(word, '{w}').replace(colorName, '{c}').replace(`a ${backgroundName} background`, 'a {b} background'));
    });
    // the word is the class word half the time: binomial σ = √(3000·¼)/3000 ≈ 0.009; tolerance 0.05 ≈ 5.5σ
    expect(Math.abs(classWords / 3000 - 0.5)).toBeLessThan(0.05);
    expect([...templatesSeen].sort()).toEqual([...CAPTION_TEMPLATES].sort());
  });

  it('rejects bad options with InvalidOptionError naming the option, before allocating', () => {
    expect(() => generateShapes({ count: -1, seed: 0 })).toThrow(InvalidOptionError);
    expect(() => generateShapes({ count: 1.5, seed: 0 })).toThrow(/`count`/);
    expect(() => generateShapes({ count: 1, seed: 0, size: 7 })).toThrow(/`size`/);
    expect(() => generateShapes({ count: 1, seed: 0.5 })).toThrow(/`seed`/);
    expect(() => generateShapes({ count: 1e9, seed: 0 })).toThrow(/`count`/);
    expect(generateShapes({ count: 0, seed: 0 }).images.length).toBe(0);
  });
});

describe('generateClassImages', () => {
  it('draws only the requested class, by label or by name, and captions use that class', () => {
    const byName = generateClassImages({ shapeClass: 'moon', count: 50, seed: 4 });
    const byLabel = generateClassImages({ shapeClass: CLASS_NAMES.indexOf('moon'), count: 50, seed: 4 });
    expect(new Set(byName.labels)).toEqual(new Set([9]));
    expect(Buffer.from(byName.images.buffer).equals(Buffer.from(byLabel.images.buffer))).toBe(true);
    for (const caption of byName.captions) {
      expect(caption.split(' ').some((w) => classOfWord(w) === 9), caption).toBe(true);
    }
  });

  it('rejects unknown classes', () => {
    expect(() => generateClassImages({ shapeClass: 'zebra', count: 1, seed: 0 })).toThrow(InvalidOptionError);
    expect(() => generateClassImages({ shapeClass: 10, count: 1, seed: 0 })).toThrow(/`shapeClass`/);
    expect(() => generateClassImages({ shapeClass: -1, count: 1, seed: 0 })).toThrow(/`shapeClass`/);
  });
});
