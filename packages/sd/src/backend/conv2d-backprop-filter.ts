/**
 * `Conv2DBackpropFilter` for the wasm backend (tfjs 4.22 ships none, so no conv weight trains on wasm without it).
 *
 * Notation (NHWC; tfjs filter layout [Fh, Fw, Ci, Co]; forward conv y = conv2d(x, w)):
 *   x  [N, H, W, Ci]      input of the forward conv (zero outside [0, H) × [0, W))
 *   dy [N, Ho, Wo, Co]    ∂L/∂y
 *   dW [Fh, Fw, Ci, Co]   ∂L/∂w:  dW[i, j, c, o] = Σ_{n, p, q} x[n, p·sh + i − pt, q·sw + j − pl, c] · dy[n, p, q, o]
 *   sh, sw: strides; pt, pb, pl, pr: padding (top, bottom, left, right) as tfjs computes it.
 *
 * Two exact strategies, both ending in one XNNPACK kernel:
 * - `im2col` (default, any stride): the transposed patch matrix
 *   Pᵀ[(i, j, c), (n, p, q)] = x[n, p·sh + i − pt, q·sw + j − pl, c]   (K = Fh·Fw·Ci rows, M = N·Ho·Wo columns)
 *   is copied row segment by row segment from xT = transpose(x) [Ci, N, H, W], then dW = Pᵀ · dy  ([K, M] x [M, Co]
 *   → [K, Co], already the filter layout). wasm's BatchMatMul is fast only without transposes and packs its
 *   right operand on every call, so the small dy is the packed one. A 1×1, stride-1, unpadded conv needs no
 *   copy: Pᵀ is xT itself.
 * - `swapped-conv` (stride 1): the sum over (p, q, n) is a convolution once batch and channel axes trade places:
 *   dW[i, j, c, o] = Σ_{p, q, n} xT'[c, i + p − pt, j + q − pl, n] · dyT[p, q, n, o]
 *   = conv2d(xT' [Ci, H, W, N], dyT [Ho, Wo, N, Co], stride 1, pads (pt, pb, pl, pr))  → [Ci, Fh, Fw, Co].
 *   XNNPACK runs it with N input channels and an Ho × Wo window, which is slow for small N: it measured as fast as
 *   `im2col` at batch 16–32 with 32–128 channels and 2.4–5× slower at batch 1 on SD shapes (bench/kernels.ts),
 *   so it is kept for comparison only.
 * Memory: `im2col` holds Pᵀ (Fh·Fw times the size of x) while the kernel runs; `swapped-conv` holds x and dy
 * transposed (once each).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  convGeometry,
  disposeInfos,
  heapF32,
  heapIndex,
  reshapeInfo,
  runWasmKernel,
  transposeInfo,
  type ConvGeometry,
} from './wasm-kernel-utils';

/** How the filter gradient is computed; `auto` is `im2col` (never slower than `swapped-conv` in bench/kernels.ts). */
export type BackpropFilterStrategy = 'auto' | 'swapped-conv' | 'im2col';

let strategyOverride: BackpropFilterStrategy = 'auto';

/** Forces one strategy for every later call (benchmarks and tests); `auto` restores the default choice. */
export function setBackpropFilterStrategy(strategy: BackpropFilterStrategy): void {
  strategyOverride = strategy;
}

function isPointwise(g: ConvGeometry): boolean {
  const { info } = g;
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    g.padTop === 0 &&
    g.padBottom === 0 &&
    g.padLeft === 0 &&
    g.padRight === 0
  );
}

/** The kernel function: inputs `{x, dy}`, attrs `Conv2DBackpropFilterAttrs`; returns dW [Fh, Fw, Ci, Co]. */
export function conv2DBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`wasm Conv2DBackpropFilter supports float32 only; got x ${x.dtype}, dy ${dy.dtype}.`);
  }
  const geometry = convGeometry(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.pad,
    attrs.dataFormat,
    attrs.dimRoundingMode,
    'Conv2DBackpropFilter',
  );
  const { info } = geometry;
  if (dy.shape.join() !== info.outShape.join()) {
    throw new Error(`wasm Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${info.outShape}].`);
  }
  let strategy = strategyOverride === 'auto' ? 'im2col' : strategyOverride;
  if (strategy === 'swapped-conv' && swappedPads(geometry) === undefined) strategy = 'im2col';
  return strategy === 'swapped-conv' ? viaSwappedConv(x, dy, geometry, backend) : viaIm2col(x, dy, geometry, backend);
}

/** Bottom/right pads of the swapped convolution, or undefined where it is not exact (strides > 1). */
function swappedPads(g: ConvGeometry): { bottom: number; right: number } | undefined {
  const { info } = g;
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  // The swapped conv's output height H + pt + pb' − Ho + 1 must equal Fh.
  const bottom = info.filterHeight - 1 + info.outHeight - info.inHeight - g.padTop;
  const right = info.filterWidth - 1 + info.outWidth - info.inWidth - g.padLeft;
  if (bottom < 0 || right < 0 || g.padTop < 0 || g.padLeft < 0) return undefined;
  return { bottom, right };
}

/** dW by the swapped convolution (stride 1 only; see the file header). */
function viaSwappedConv(x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry, backend: BackendWasm): tf.TensorInfo {
  const pads = swappedPads(g);
  if (pads === undefined) throw new Error('swapped-conv filter gradient needs stride 1');
  const xT = transposeInfo(x, [3, 1, 2, 0], backend); // [N, H, W, Ci] -> [Ci, H, W, N] (xT')
  const dyT = transposeInfo(dy, [1, 2, 0, 3], backend); // [N, Ho, Wo, Co] -> [Ho, Wo, N, Co]
  const pad = [
    [0, 0],
    [g.padTop, pads.bottom],
    [g.padLeft, pads.right],
    [0, 0],
  ];
  const conv = runWasmKernel(
    tf.Conv2D,
    { x: xT, filter: dyT },
    { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] } as unknown as tf.NamedAttrMap,
    backend,
  ); // [Ci, H, W, N] * [Ho, Wo, N, Co] -> [Ci, Fh, Fw, Co]
  const dW = transposeInfo(conv, [1, 2, 0, 3], backend); // [Ci, Fh, Fw, Co] -> [Fh, Fw, Ci, Co]
  disposeInfos(backend, xT, dyT, conv);
  return dW;
}

/** dW = Pᵀ · dy (see the file header). */
function viaIm2col(x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry, backend: BackendWasm): tf.TensorInfo {
  const { info } = g;
  const M = info.batchSize * info.outHeight * info.outWidth;
  const K = info.filterHeight * info.filterWidth * info.inChannels;
  const Co = info.outChannels;
  const xT = transposeInfo(x, [3, 0, 1, 2], backend); // [N, H, W, Ci] -> [Ci, N, H, W]
  const patchesT = isPointwise(g) ? reshapeInfo(xT, [1, K, M], backend) : im2colTransposed(xT, g, backend); // [1, K, M]
  const dy3 = reshapeInfo(dy, [1, M, Co], backend); // [1, M, Co]
  const product = runWasmKernel(tf.BatchMatMul, { a: patchesT, b: dy3 }, { transposeA: false, transposeB: false }, backend); // [1, K, M] x [1, M, Co] -> [1, K, Co]
  const dW = reshapeInfo(product, [info.filterHeight, info.filterWidth, info.inChannels, Co], backend); // [Fh, Fw, Ci, Co]
  disposeInfos(backend, xT, patchesT, dy3, product);
  return dW;
}

/**
 * Pᵀ [1, K, M] from xT [Ci, N, H, W]: row (i, j, c), column (n, p, q) holds xT[c, n, p·sh + i − pt, q·sw + j − pl],
 * zero outside the input. Copies runs of Wo values (stride 1) or gathers them (strided).
 */
export function im2colTransposed(xT: tf.TensorInfo, g: ConvGeometry, backend: BackendWasm): tf.TensorInfo {
  const { info } = g;
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: Ho, outWidth: Wo } = info;
  const { filterHeight: Fh, filterWidth: Fw, strideHeight: sh, strideWidth: sw } = info;
  const M = N * Ho * Wo;
  const out = backend.makeOutput([1, Fh * Fw * Ci, M], 'float32');
  const heap = heapF32(backend); // after the allocation above
  const xBase = heapIndex(backend, xT);
  let dst = heapIndex(backend, out);
  for (let i = 0; i < Fh; i++) {
    for (let j = 0; j < Fw; j++) {
      const shift = j - g.padLeft; // input column = q·sw + shift
      const qStart = Math.min(Wo, Math.max(0, Math.ceil(-shift / sw)));
      const qEnd = Math.max(qStart, Math.min(Wo, Math.floor((W - 1 - shift) / sw) + 1));
      for (let c = 0; c < Ci; c++) {
        const plane = xBase + c * N * H * W;
        for (let n = 0; n < N; n++) {
          for (let p = 0; p < Ho; p++) {
            const r = p * sh + i - g.padTop;
            if (r < 0 || r >= H) {
              heap.fill(0, dst, dst + Wo);
              dst += Wo;
              continue;
            }
            const src = plane + (n * H + r) * W + shift;
            if (qStart > 0) heap.fill(0, dst, dst + qStart);
            if (sw === 1) {
              heap.copyWithin(dst + qStart, src + qStart, src + qEnd);
            } else {
              for (let q = qStart; q < qEnd; q++) heap[dst + q] = heap[src + q * sw] as number;
            }
            if (qEnd < Wo) heap.fill(0, dst + qEnd, dst + Wo);
            dst += Wo;
          }
        }
      }
    }
  }
  return out;
}

/** Kernel config for `tf.registerKernel`. */
export const conv2DBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
};
