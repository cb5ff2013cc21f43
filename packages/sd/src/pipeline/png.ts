/**
 * PNG output for generated images: encode, tile into a grid, and write atomically (temp file + rename).
 * Images are float32 [B, H, W, 3] in [0, 1] (what `textToImage` returns).
 */
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { writeAll, writeFileAtomic } from '@erase/core';

/** Encodes one image float32 [H, W, 3] in [0, 1] as PNG bytes. The input is not disposed. */
export async function encodePng(image: tf.Tensor3D): Promise<Buffer> {
  if (image.rank !== 3 || image.shape[2] !== 3 || image.shape[0] < 1 || image.shape[1] < 1) {
    throw new ShapeMismatchError({ what: 'encodePng image (at least 1×1 pixels)', expected: [null, null, 3], received: image.shape });
  }
  const [height, width] = image.shape;
  const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(image, 0, 1), 255)), 'int32')); // [H, W, 3]
  const rgb = await bytes.data();
  bytes.dispose();
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[i * 4] = rgb[i * 3] as number;
    png.data[i * 4 + 1] = rgb[i * 3 + 1] as number;
    png.data[i * 4 + 2] = rgb[i * 3 + 2] as number;
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

/**
 * Tiles images [B, H, W, 3] into a grid [rows·(H+pad)−pad, cols·(W+pad)−pad, 3] filled row by row;
 * empty cells and padding are `background`. The caller owns the result.
 */
export function imageGrid(images: tf.Tensor4D, columns: number, options: { padding?: number; background?: number } = {}): tf.Tensor3D {
  if (!Number.isInteger(columns) || columns < 1) {
    throw new InvalidOptionError({ option: 'columns', expected: 'a positive integer', received: columns });
  }
  const pad = options.padding ?? 1;
  const bg = options.background ?? 1;
  if (!Number.isSafeInteger(pad) || pad < 0) throw new InvalidOptionError({ option: 'padding', expected: 'an integer ≥ 0 (pixels)', received: pad });
  if (!Number.isFinite(bg)) throw new InvalidOptionError({ option: 'background', expected: 'a finite number (0 black … 1 white)', received: bg });
  if (images.rank !== 4 || images.shape[0] < 1 || images.shape[3] !== 3) {
    throw new ShapeMismatchError({ what: 'imageGrid images (at least one)', expected: [null, null, null, 3], received: images.shape });
  }
  const [b, h, w] = images.shape;
  const cols = Math.min(columns, b);
  const rows = Math.ceil(b / cols);
  return tf.tidy(() => {
    const cells = tf.unstack(images); // B × [H, W, 3]
    const rowTensors: tf.Tensor3D[] = [];
    for (let r = 0; r < rows; r++) {
      const parts: tf.Tensor3D[] = [];
      for (let col = 0; col < cols; col++) {
        const cell = (cells[r * cols + col] as tf.Tensor3D | undefined) ?? tf.fill([h, w, 3], bg);
        if (col > 0 && pad > 0) parts.push(tf.fill([h, pad, 3], bg) as tf.Tensor3D); // [H, pad, 3]
        parts.push(cell as tf.Tensor3D); // [H, W, 3]
      }
      if (r > 0 && pad > 0) rowTensors.push(tf.fill([pad, cols * (w + pad) - pad, 3], bg) as tf.Tensor3D); // [pad, W', 3]
      rowTensors.push(tf.concat(parts, 1) as tf.Tensor3D); // [H, W', 3]
    }
    return tf.concat(rowTensors, 0) as tf.Tensor3D; // [H', W', 3]
  });
}

/** Encodes and writes each image of [B, H, W, 3] to the matching path, atomically (parent folders are created). */
export async function savePngs(images: tf.Tensor4D, paths: readonly string[]): Promise<void> {
  if (paths.length !== images.shape[0]) {
    throw new InvalidOptionError({ option: 'paths', expected: `${images.shape[0]} paths (one per image)`, received: paths });
  }
  const cells = tf.unstack(images) as tf.Tensor3D[]; // B × [H, W, 3]
  try {
    for (let i = 0; i < cells.length; i++) {
      const bytes = await encodePng(cells[i] as tf.Tensor3D);
      writeFileAtomic(paths[i] as string, (fd) => writeAll(fd, bytes), { createFolder: true }); // FileFormatError naming the path
    }
  } finally {
    for (const cell of cells) cell.dispose();
  }
}
