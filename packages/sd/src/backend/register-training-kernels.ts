/**
 * Registers the wasm kernels that training needs and tfjs 4.22 lacks or runs slowly, through the public kernel
 * registry only (`tf.getKernel`, `tf.unregisterKernel`, `tf.registerKernel`); nothing inside node_modules changes.
 *
 * - `Conv2DBackpropFilter` (new): conv weights train on wasm.
 * - `Conv2DBackpropInput` (replaced): the input gradient as one forward conv; the original kernel stays as the
 *   fallback for padding the rewrite cannot express.
 * - `UnsortedSegmentSum` (new): the gradient of `tf.gather` / embedding lookups.
 * - `Identity` (replaced): a zero-copy alias, as on tfjs-cpu (the engine clones every tensor saved for backprop).
 * - `BatchMatMul` (wrapped): transposed operands are transposed explicitly first (5–25× faster for Linear gradients).
 *
 * Replacing a kernel: `tf.registerKernel` on an existing name only warns and overwrites, so the original config is
 * read with `tf.getKernel`, unregistered, and the replacement registered with the original's `setupFunc` and
 * `disposeFunc` (the original's `setupFunc` binds its C++ entry point when a wasm backend instance is set up, and
 * the replacement still calls the original). Kernel and backend registries are process-global in tfjs, so a mark
 * on each kernel function (a `Symbol.for` key) keeps this idempotent even across duplicate copies of this package.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm'; // registers the wasm backend and its kernels before we wrap them
import { makeBatchMatMulWasm } from './batch-matmul';
import { conv2DBackpropFilterWasm } from './conv2d-backprop-filter';
import { makeConv2DBackpropInputWasm } from './conv2d-backprop-input';
import { makeIdentityAliasWasm } from './identity-alias';
import { unsortedSegmentSumWasm } from './unsorted-segment-sum';
import { WASM } from './wasm-kernel-utils';

const MARK = Symbol.for('@erase/sd.wasm-training-kernel');

interface KernelSpec {
  readonly kernelName: string;
  readonly make: (original: tf.KernelFunc | undefined) => tf.KernelFunc;
}

const SPECS: readonly KernelSpec[] = [
  { kernelName: tf.Conv2DBackpropFilter, make: () => conv2DBackpropFilterWasm as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropInput, make: makeConv2DBackpropInputWasm },
  { kernelName: tf.UnsortedSegmentSum, make: () => unsortedSegmentSumWasm as unknown as tf.KernelFunc },
  { kernelName: tf.Identity, make: makeIdentityAliasWasm },
  { kernelName: tf.BatchMatMul, make: makeBatchMatMulWasm },
];

/** Names of the wasm kernels `registerWasmTrainingKernels` provides. */
export const WASM_TRAINING_KERNELS: readonly string[] = SPECS.map((s) => s.kernelName);

function isOurs(config: tf.KernelConfig | undefined): boolean {
  return config !== undefined && (config.kernelFunc as unknown as Record<symbol, unknown>)[MARK] === true;
}

/**
 * Registers (once per process) the wasm kernels listed in `WASM_TRAINING_KERNELS`. Safe to call any number of
 * times, before or after the wasm backend is initialized; `useBackend('wasm')` calls it.
 * @returns the kernel names registered by this call (empty when they already were)
 */
export function registerWasmTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const spec of SPECS) {
    const current = tf.getKernel(spec.kernelName, WASM);
    if (isOurs(current)) continue;
    const kernelFunc = spec.make(current?.kernelFunc);
    Object.defineProperty(kernelFunc, MARK, { value: true });
    if (current !== undefined) tf.unregisterKernel(spec.kernelName, WASM);
    const config: tf.KernelConfig = { kernelName: spec.kernelName, backendName: WASM, kernelFunc };
    if (current?.setupFunc !== undefined) config.setupFunc = current.setupFunc;
    if (current?.disposeFunc !== undefined) config.disposeFunc = current.disposeFunc;
    tf.registerKernel(config);
    registered.push(spec.kernelName);
  }
  return registered;
}
