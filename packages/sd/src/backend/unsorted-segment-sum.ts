/**
 * `UnsortedSegmentSum` for the wasm backend: the gradient of `tf.gather` (an embedding lookup) needs it, and tfjs
 * 4.22's wasm backend has none.
 *
 * Notation:
 *   x   [P, ...inner]   values (P = size of segmentIds; x.shape starts with segmentIds.shape)
 *   ids [P]             segment of each row (int32)
 *   out [S, ...inner]   out[s] = Σ_{p : ids[p] = s} x[p]        (S = numSegments)
 * Equivalent to oneHot(ids, S)ᵀ · x, but done as a scatter-add over the rows, in row order, in the wasm heap:
 * O(P · D) work instead of O(S · P · D) (the embedding gradient of a 49,408-token vocabulary would otherwise
 * multiply by a 49,408-row one-hot matrix), and Inf/NaN in one row stay in its own segment (0 · Inf would not).
 * Rows whose id is negative or ≥ S are dropped, as on tfjs-cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ShapeMismatchError } from '@erase/core';
import { heapF32, heapI32, heapIndex } from './wasm-kernel-utils';

/** The kernel function: inputs `{x, segmentIds}`, attrs `{numSegments}`; returns [numSegments, ...inner]. */
export function unsortedSegmentSumWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const idsRank = segmentIds.shape.length;
  const prefix = x.shape.slice(0, idsRank);
  if (idsRank === 0 || prefix.join() !== segmentIds.shape.join()) {
    throw new ShapeMismatchError({
      what: 'unsortedSegmentSum: the leading dimensions of x (they must equal segmentIds.shape)',
      expected: segmentIds.shape,
      received: prefix,
    });
  }
  if (segmentIds.dtype !== 'int32') throw new Error(`unsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}.`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`wasm UnsortedSegmentSum supports float32 and int32 values; got ${x.dtype}.`);
  }
  const inner = x.shape.slice(idsRank);
  const D = inner.reduce((a, b) => a * b, 1);
  const P = tf.util.sizeFromShape(segmentIds.shape);
  const out = backend.makeOutput([numSegments, ...inner], x.dtype);
  const values = x.dtype === 'float32' ? heapF32(backend) : heapI32(backend); // after the allocation above
  const ids = heapI32(backend);
  const xBase = heapIndex(backend, x);
  const idsBase = heapIndex(backend, segmentIds);
  const outBase = heapIndex(backend, out);
  values.fill(0, outBase, outBase + numSegments * D);
  for (let p = 0; p < P; p++) {
    const s = ids[idsBase + p] as number;
    if (s < 0 || s >= numSegments) continue;
    const src = xBase + p * D;
    const dst = outBase + s * D;
    for (let d = 0; d < D; d++) values[dst + d] = (values[dst + d] as number) + (values[src + d] as number);
  }
  return out;
}

/** Kernel config for `tf.registerKernel`. */
export const unsortedSegmentSumWasmConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
};
