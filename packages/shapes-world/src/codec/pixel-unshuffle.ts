/**
 * The world's "VAE": pixel-unshuffle by 2 (space-to-depth), exact and invertible, scaling factor 1.
 *
 * Notation: images x ∈ ℝ^{B×H×W×C} (NHWC, C = 3), block size s = 2, latents z ∈ ℝ^{B×H/s×W/s×s²C} with
 *   z[b, i, j, (dy·s + dx)·C + c] = x[b, i·s + dy, j·s + dx, c]
 * — the channel order of TensorFlow's `space_to_depth`/`tf.depthToSpace` (NHWC). PyTorch's `pixel_unshuffle` on
 * NCHW orders the channels c·s² + dy·s + dx instead; a model trained with one order does not read the other.
 * Written as reshape + transpose so it runs on every backend and has gradients (tfjs-core has no `spaceToDepth`
 * op and no gradient for `DepthToSpace`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError, type LatentCodec } from '@erase/core';

/** Block size s. */
const BLOCK = 2;

/** Pixel-unshuffle codec: images [B, H, W, 3] ↔ latents [B, H/2, W/2, 12]. Holds no tensors. */
export class PixelUnshuffleCodec implements LatentCodec {
  readonly scalingFactor = 1;
  readonly downsampleFactor = BLOCK;
  /** Channels of the images it encodes (3). */
  readonly imageChannels = 3;
  /** Channels of the latents (s² · 3 = 12). */
  readonly latentChannels = BLOCK * BLOCK * 3;

  /**
   * Space-to-depth. `images` float32 [B, H, W, 3], H and W even; not disposed. The caller owns the result.
   * @returns latents [B, H/2, W/2, 12].
   * @throws ShapeMismatchError for another rank, channel count or an odd H/W.
   */
  encode(images: tf.Tensor4D): tf.Tensor4D {
    const [b, height, width, c] = checkShape('PixelUnshuffleCodec.encode images', images, this.imageChannels);
    if (height % BLOCK !== 0 || width % BLOCK !== 0) {
      throw new ShapeMismatchError({ what: 'PixelUnshuffleCodec.encode images (H and W must be even)', expected: [null, null, null, 3], received: images.shape });
    }
    const h = height / BLOCK;
    const w = width / BLOCK;
    return tf.tidy(() => {
      const rows = tf.reshape(images, [b * h, BLOCK, w, BLOCK * c]); // [B, H, W, C] -> [B·h, dy, w, (dx, C)]
      const swapped = tf.transpose(rows, [0, 2, 1, 3]); // [B·h, dy, w, (dx, C)] -> [B·h, w, dy, (dx, C)]
      return tf.reshape(swapped, [b, h, w, BLOCK * BLOCK * c]); // -> [B, h, w, (dy, dx, C)]
    });
  }

  /**
   * Depth-to-space, the exact inverse of `encode`. `latents` float32 [B, h, w, 12]; not disposed. The caller owns
   * the result.
   * @returns images [B, 2h, 2w, 3].
   * @throws ShapeMismatchError for another rank or channel count.
   */
  decode(latents: tf.Tensor4D): tf.Tensor4D {
    const [b, h, w] = checkShape('PixelUnshuffleCodec.decode latents', latents, this.latentChannels);
    const c = this.imageChannels;
    return tf.tidy(() => {
      const blocks = tf.reshape(latents, [b * h, w, BLOCK, BLOCK * c]); // [B, h, w, (dy, dx, C)] -> [B·h, w, dy, (dx, C)]
      const swapped = tf.transpose(blocks, [0, 2, 1, 3]); // [B·h, w, dy, (dx, C)] -> [B·h, dy, w, (dx, C)]
      return tf.reshape(swapped, [b, h * BLOCK, w * BLOCK, c]); // -> [B, H, W, C]
    });
  }
}

function checkShape(what: string, x: tf.Tensor, channels: number): [number, number, number, number] {
  if (x.rank !== 4 || x.shape[3] !== channels || x.dtype !== 'float32') {
    throw new ShapeMismatchError({ what: `${what} (float32 NHWC, found ${x.dtype})`, expected: [null, null, null, channels], received: x.shape });
  }
  return x.shape as [number, number, number, number];
}
