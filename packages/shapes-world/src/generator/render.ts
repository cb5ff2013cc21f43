/**
 * Draws one shape into an NHWC float32 image with S×S supersampling and a box filter.
 *
 * Notation: image size N pixels, supersampling factor S (4), pixel (x, y) covers [x, x+1) × [y, y+1); its S²
 * subsamples sit at (x + (i + ½)/S, y + (j + ½)/S). Coverage α = (subsamples inside) / S² (box downsampling of
 * the S·N × S·N binary image). Pixel value p = b + α (f − b) per channel, with fill f and background b in
 * [0, 255], then mapped to [-1, 1] by p / 127.5 − 1.
 */
import { SHAPE_GEOMETRY } from './shapes';

/** Where and how one shape is drawn. */
export interface ShapePlacement {
  /** Class label (index into `SHAPE_CLASSES`). */
  readonly label: number;
  /** Centre in pixels (x right, y down). */
  readonly centerX: number;
  readonly centerY: number;
  /** Radius in pixels (half the bounding box's longer side). */
  readonly radius: number;
  /** Fill and background, 8-bit RGB. */
  readonly fill: readonly [number, number, number];
  readonly background: readonly [number, number, number];
}

/**
 * Renders `placement` into `out` at image index `index` (NHWC, `size`×`size`×3, values in [-1, 1]); every pixel
 * of that image is written. `scratch` is reused between calls to avoid allocation (length ≥ supersample·size).
 */
export function renderShape(
  out: Float32Array,
  index: number,
  size: number,
  supersample: number,
  placement: ShapePlacement,
  scratch: Float64Array,
): void {
  const { inside, extent } = SHAPE_GEOMETRY[placement.label] as (typeof SHAPE_GEOMETRY)[number];
  const { centerX, centerY, radius, fill, background } = placement;
  const base = index * size * size * 3;
  const b0 = background[0] / 127.5 - 1;
  const b1 = background[1] / 127.5 - 1;
  const b2 = background[2] / 127.5 - 1;
  const d0 = (fill[0] - background[0]) / 127.5;
  const d1 = (fill[1] - background[1]) / 127.5;
  const d2 = (fill[2] - background[2]) / 127.5;
  for (let p = base; p < base + size * size * 3; p += 3) {
    out[p] = b0;
    out[p + 1] = b1;
    out[p + 2] = b2;
  }
  // pixels that can be touched: the bounding box, clipped to the image
  const x0 = Math.max(0, Math.floor(centerX - extent[0] * radius));
  const x1 = Math.min(size - 1, Math.floor(centerX + extent[0] * radius));
  const y0 = Math.max(0, Math.floor(centerY - extent[1] * radius));
  const y1 = Math.min(size - 1, Math.floor(centerY + extent[1] * radius));
  const inv = 1 / radius;
  const step = 1 / supersample;
  const samples = supersample * supersample;
  // unit-coordinate u of every subsample column in the box: us[(x − x0)·S + i]
  const us = scratch;
  for (let x = x0; x <= x1; x++) {
    for (let i = 0; i < supersample; i++) us[(x - x0) * supersample + i] = (x + (i + 0.5) * step - centerX) * inv;
  }
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let count = 0;
      for (let j = 0; j < supersample; j++) {
        const v = (y + (j + 0.5) * step - centerY) * inv;
        const col = (x - x0) * supersample;
        for (let i = 0; i < supersample; i++) if (inside(us[col + i] as number, v)) count++;
      }
      if (count === 0) continue;
      const alpha = count / samples;
      const p = base + (y * size + x) * 3;
      out[p] = b0 + alpha * d0;
      out[p + 1] = b1 + alpha * d1;
      out[p + 2] = b2 + alpha * d2;
    }
  }
}
