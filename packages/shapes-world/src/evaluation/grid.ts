/**
 * The PNG grid of the measurement: rows = prompts, columns = seeds, every 24 × 24 image upscaled by nearest
 * neighbour (×4 by default) so a person can see the shapes.
 *
 * Notation: images x ∈ [-1, 1]^{N×H×W×3} (what the oracle reads), shown as (x + 1)/2 ∈ [0, 1]; upscaled
 * u[n, y, x', c] = x[n, ⌊y/s⌋, ⌊x'/s⌋, c] for s = `factor`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import { encodePng, imageGrid } from '@erase/sd';

/**
 * Nearest-neighbour upscaling of host images [N, H, W, 3] (row-major) by an integer factor.
 * @returns [N, sH, sW, 3] row-major, same value range.
 * @throws InvalidOptionError for a factor outside [1, 64] or a buffer that is not N·H·W·3 values.
 */
export function upscaleNearest(images: Float32Array, shape: readonly [number, number, number, number], factor: number): Float32Array {
  const [n, h, w, c] = shape;
  if (!Number.isInteger(factor) || factor < 1 || factor > 64) {
    throw new InvalidOptionError({ option: 'factor', expected: 'an integer in [1, 64]', received: factor });
  }
  if (images.length !== n * h * w * c) {
    throw new InvalidOptionError({ option: 'images', expected: `${n * h * w * c} values for [${shape.join(', ')}]`, received: images.length });
  }
  const sh = h * factor;
  const sw = w * factor;
  const out = new Float32Array(n * sh * sw * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < sh; y++) {
      const source = ((b * h + Math.floor(y / factor)) * w) * c;
      const target = ((b * sh + y) * sw) * c;
      for (let x = 0; x < sw; x++) {
        for (let k = 0; k < c; k++) out[target + x * c + k] = images[source + Math.floor(x / factor) * c + k] as number;
      }
    }
  }
  return out;
}

/**
 * PNG bytes of a grid of host images [rows·columns, H, W, 3] in [-1, 1] (row-major cells), each upscaled by
 * `factor` (default 4), separated by `padding` white pixels (default 2). No tensor outlives the call.
 * @throws InvalidOptionError for a bad shape, column count or factor.
 */
export async function gridPng(images: Float32Array, imageShape: readonly [number, number, number], columns: number, options: { factor?: number; padding?: number } = {}): Promise<Buffer> {
  const [h, w, c] = imageShape;
  const pixels = h * w * c;
  if (c !== 3 || pixels === 0 || images.length % pixels !== 0 || images.length === 0) {
    throw new InvalidOptionError({ option: 'images', expected: `a whole number (≥ 1) of [${h}, ${w}, 3] images`, received: images.length });
  }
  const count = images.length / pixels;
  const factor = options.factor ?? 4;
  const big = upscaleNearest(images, [count, h, w, c], factor);
  const cells = tf.tidy(() => {
    const raw = tf.tensor4d(big, [count, h * factor, w * factor, c], 'float32'); // [N, sH, sW, 3] in [-1, 1]
    return tf.clipByValue(tf.add(tf.mul(raw, 0.5), 0.5), 0, 1) as tf.Tensor4D; // [N, sH, sW, 3] in [0, 1]
  });
  let grid: tf.Tensor3D | undefined;
  try {
    grid = imageGrid(cells, columns, { padding: options.padding ?? 2, background: 1 }); // [R·(sH+p)−p, C·(sW+p)−p, 3]
    return await encodePng(grid);
  } finally {
    cells.dispose();
    grid?.dispose();
  }
}
