/**
 * A zero-copy `Identity` for the wasm backend.
 *
 * tfjs's engine clones (runs `Identity` on) every tensor a gradient will need while it records the tape
 * (`saveTensorsForBackwardMode`), thousands of times per training step. tfjs 4.22's wasm `Identity` allocates and
 * copies; tfjs-cpu's (and webgl's) returns an alias of the same data with its refcount raised, exactly like
 * `Reshape` does on wasm. tfjs tensors are immutable (a `Variable.assign` re-points the variable at new data), so
 * the alias is exact: same bytes, freed when the last holder is disposed. String tensors keep the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

let aliasEnabled = true;

/** Turns the alias off (every call goes to the original copying kernel) or back on; for benchmarks and tests. */
export function setIdentityAlias(enabled: boolean): void {
  aliasEnabled = enabled;
}

/** Builds the kernel function around `original` (used for string tensors, and while the alias is off). */
export function makeIdentityAliasWasm(original: tf.KernelFunc | undefined): tf.KernelFunc {
  const kernel = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string' || !aliasEnabled) {
      if (original === undefined) throw new Error('wasm Identity: no fallback kernel for string tensors.');
      return original(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
  return kernel as unknown as tf.KernelFunc;
}
