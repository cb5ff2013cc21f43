/**
 * A faster `BatchMatMul` for wasm: when `transposeA` / `transposeB` is set, transpose the operand explicitly and run
 * the plain kernel. tfjs-wasm's XNNPACK path is fast only for untransposed operands; every Linear layer's gradient
 * asks for transposed products (dW = xᵀ·dy, dx = dy·Wᵀ), which measured 5–25× slower than transpose + plain matMul
 * (e.g. [1152, 64]ᵀ·dy: 91 ms vs 3.9 ms). Exact: a transpose only moves values.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeInfos, transposeInfo } from './wasm-kernel-utils';

/** Wraps tfjs-wasm's own `BatchMatMul` kernel (`original`). */
export function makeBatchMatMulWasm(original: tf.KernelFunc | undefined): tf.KernelFunc {
  if (original === undefined) throw new Error('makeBatchMatMulWasm: tfjs-wasm registered no BatchMatMul kernel');
  const kernel = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!attrs.transposeA && !attrs.transposeB) return original(args as never) as tf.TensorInfo;
    const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
      const rank = x.shape.length;
      const perm = [...Array(rank).keys()];
      perm[rank - 2] = rank - 1;
      perm[rank - 1] = rank - 2;
      return transposeInfo(x, perm, backend); // [..., m, n] -> [..., n, m]
    };
    const aPlain = attrs.transposeA ? swapLastTwo(a) : a;
    const bPlain = attrs.transposeB ? swapLastTwo(b) : b;
    try {
      return original({
        inputs: { a: aPlain, b: bPlain },
        backend: args.backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      } as never) as tf.TensorInfo;
    } finally {
      if (aPlain !== a) disposeInfos(backend, aPlain);
      if (bPlain !== b) disposeInfos(backend, bPlain);
    }
  };
  return kernel as unknown as tf.KernelFunc;
}
