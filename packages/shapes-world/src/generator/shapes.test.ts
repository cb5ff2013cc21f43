// Tests of the shape geometry and the supersampled renderer: rendered areas against the closed-form areas,
// landmark points per class (e.g. the ring's hole), and the area each class occupies in generated 24 px images.
import { describe, expect, it } from 'vitest';
import { BACKGROUNDS, CLASS_NAMES, FILL_COLORS } from '../world/vocabulary';
import { generateClassImages } from './generate';
import { renderShape } from './render';
import { SHAPE_GEOMETRY } from './shapes';

/** Fraction of [-1, 1]-encoded pixel (p) between background b and fill f, on the channel where they differ most. */
function coverage(pixel: readonly number[], fill: readonly number[], background: readonly number[]): number {
  let channel = 0;
  for (let c = 1; c < 3; c++) {
    if (Math.abs(fill[c]! - background[c]!) > Math.abs(fill[channel]! - background[channel]!)) channel = c;
  }
  const f = fill[channel]! / 127.5 - 1;
  const b = background[channel]! / 127.5 - 1;
  return (pixel[channel]! - b) / (f - b);
}

describe('shape geometry', () => {
  it.each(CLASS_NAMES.map((name) => [name] as const))(
    '%s: the supersampled rendering at 160 px has the closed-form area (within 1 percent) and stays in its extent box',
    (name) => {
      const label = CLASS_NAMES.indexOf(name);
      const size = 160;
      const radius = 70;
      const out = new Float32Array(size * size * 3);
      renderShape(out, 0, size, 4, { label, centerX: 80, centerY: 80, radius, fill: [255, 255, 255], background: [0, 0, 0] }, new Float64Array(4 * (size + 1)));
      let sum = 0;
      const [eu, ev] = SHAPE_GEOMETRY[label]!.extent;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const alpha = (out[(y * size + x) * 3]! + 1) / 2;
          sum += alpha;
          if (alpha > 0) {
            // a touched pixel overlaps the box |u| ≤ e_u, |v| ≤ e_v
            expect(Math.abs(x + 0.5 - 80)).toBeLessThanOrEqual(eu * radius + 1);
            expect(Math.abs(y + 0.5 - 80)).toBeLessThanOrEqual(ev * radius + 1);
          }
        }
      }
      const area = SHAPE_GEOMETRY[label]!.area;
      expect(Math.abs(sum / (radius * radius) - area) / area).toBeLessThan(0.01);
    },
  );

  it('landmarks: holes, notches and gaps are outside; bodies are inside', () => {
    const inside = (name: string, u: number, v: number): boolean => SHAPE_GEOMETRY[CLASS_NAMES.indexOf(name)]!.inside(u, v);
    // every shape except the ring and the moon covers its centre
    for (const name of CLASS_NAMES) expect(inside(name, 0, 0), name).toBe(name !== 'ring' && name !== 'moon');
    expect(inside('ring', 0.75, 0)).toBe(true);
    expect(inside('ring', 0.3, 0.3)).toBe(false);
    expect(inside('moon', -0.6, 0)).toBe(true); // the thick part of the crescent, on the left
    expect(inside('moon', 0.4, 0)).toBe(false); // the bite, on the right
    expect(inside('cross', 0.7, 0.7)).toBe(false); // between the arms
    expect(inside('cross', 0.8, 0)).toBe(true);
    expect(inside('square', 0.7, 0.7)).toBe(true);
    expect(inside('diamond', 0.6, 0.6)).toBe(false);
    expect(inside('triangle', 0, -0.8)).toBe(true); // near the apex (top)
    expect(inside('triangle', -0.8, -0.8)).toBe(false);
    expect(inside('triangle', 0, 0.9)).toBe(false); // below the base
    expect(inside('star', 0, -0.9)).toBe(true); // the top point
    expect(inside('star', 0.5, -0.6)).toBe(false); // between the top and the right points
    expect(inside('heart', 0, -0.85)).toBe(false); // the notch between the lobes
    expect(inside('heart', 0.5, -0.5)).toBe(true); // a lobe
    expect(inside('heart', 0, 0.9)).toBe(true); // near the tip (bottom)
    expect(inside('hexagon', 0.95, 0.8)).toBe(false);
    expect(inside('hexagon', 0.9, 0)).toBe(true);
  });
});

describe('generated 24 px images', () => {
  it("every ring's centre pixel is pure background (the hole is ≥ 3.3 px wide)", () => {
    const batch = generateClassImages({ shapeClass: 'ring', count: 200, seed: 11 });
    for (let n = 0; n < 200; n++) {
      const x = Math.floor(batch.centers[2 * n]!);
      const y = Math.floor(batch.centers[2 * n + 1]!);
      const p = ((n * 24 + y) * 24 + x) * 3;
      const background = BACKGROUNDS[batch.backgrounds[n]!]!.rgb.map((v) => v / 127.5 - 1);
      expect([batch.images[p], batch.images[p + 1], batch.images[p + 2]].map((v) => Math.fround(v!))).toEqual(
        background.map((v) => Math.fround(v)),
      );
    }
  });

  it("every circle's centre pixel is pure fill", () => {
    const batch = generateClassImages({ shapeClass: 'circle', count: 200, seed: 12 });
    for (let n = 0; n < 200; n++) {
      const p = ((n * 24 + Math.floor(batch.centers[2 * n + 1]!)) * 24 + Math.floor(batch.centers[2 * n]!)) * 3;
      const fill = FILL_COLORS[batch.colors[n]!]!.rgb.map((v) => Math.fround(v / 127.5 - 1));
      expect([batch.images[p], batch.images[p + 1], batch.images[p + 2]]).toEqual(fill);
    }
  });

  it.each(CLASS_NAMES.map((name) => [name] as const))(
    '%s occupies area · E[r²] on average (E[r²] = (a² + ab + b²)/3 · 24² for r ~ U[a, b]·24; within 4 percent)',
    (name) => {
      const count = 300;
      const batch = generateClassImages({ shapeClass: name, count, seed: 13 });
      let total = 0;
      for (let n = 0; n < count; n++) {
        const fill = FILL_COLORS[batch.colors[n]!]!.rgb;
        const background = BACKGROUNDS[batch.backgrounds[n]!]!.rgb;
        for (let p = 0; p < 24 * 24; p++) {
          const base = (n * 24 * 24 + p) * 3;
          total += coverage([batch.images[base]!, batch.images[base + 1]!, batch.images[base + 2]!], fill, background);
        }
      }
      const [a, b] = [0.28, 0.42];
      const expected = (SHAPE_GEOMETRY[CLASS_NAMES.indexOf(name)]!.area * ((a * a + a * b + b * b) / 3) * 24 * 24) * count;
      expect(Math.abs(total / expected - 1)).toBeLessThan(0.04);
    },
  );
});
