/**
 * Small helpers shared by the wasm kernels this package registers.
 *
 * A kernel registered with `tf.registerKernel` receives `TensorInfo`s (`{dataId, shape, dtype}`) and the backend,
 * and must return `TensorInfo`s. Composite kernels here follow the wasm backend's own pattern: they call other wasm
 * kernels' `kernelFunc`s directly (found with the public `tf.getKernel(name, 'wasm')`) and free every
 * intermediate with `backend.disposeData(dataId)`. They never call public ops (`tf.transpose`, …). That would work
 * (checked on tfjs 4.22: the engine records no tape node for ops run inside a kernel, since its kernel depth is
 * > 0, and a returned Tensor is passed through as the output), but every intermediate becomes a tracked tensor in
 * the caller's scope and leaks unless disposed or wrapped in `tf.tidy`. Raw heap access goes through
 * `heapF32`/`heapI32`, which must be taken *after* the last allocation of a kernel (an allocation may grow, and
 * so replace, the wasm memory buffer).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Name of the wasm backend in tfjs's registries. */
export const WASM = 'wasm';

/** Runs the wasm kernel `name` on TensorInfos; the caller frees the result with `backend.disposeData`. */
export function runWasmKernel(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
  backend: BackendWasm,
): tf.TensorInfo {
  const config = tf.getKernel(name, WASM);
  if (config === undefined) throw new Error(`The wasm backend has no '${name}' kernel registered.`);
  return config.kernelFunc({ inputs, attrs, backend }) as tf.TensorInfo;
}

/** `Transpose` on the wasm backend. */
export function transposeInfo(x: tf.TensorInfo, perm: number[], backend: BackendWasm): tf.TensorInfo {
  return runWasmKernel(tf.Transpose, { x }, { perm }, backend);
}

/** A reshaped alias of `x` (no copy; the backend's refcount keeps the memory alive). */
export function reshapeInfo(x: tf.TensorInfo, shape: number[], backend: BackendWasm): tf.TensorInfo {
  return runWasmKernel(tf.Reshape, { x }, { shape }, backend);
}

/** Frees intermediates made inside a kernel. */
export function disposeInfos(backend: BackendWasm, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** Element offset of a float32/int32 tensor inside the wasm heap. */
export function heapIndex(backend: BackendWasm, info: tf.TensorInfo): number {
  return backend.getMemoryOffset(info.dataId) / 4;
}

/** A float32 view over the whole wasm heap (take it after the kernel's last allocation). */
export function heapF32(backend: BackendWasm): Float32Array {
  return new Float32Array(heapBuffer(backend));
}

/** An int32 view over the whole wasm heap (take it after the kernel's last allocation). */
export function heapI32(backend: BackendWasm): Int32Array {
  return new Int32Array(heapBuffer(backend));
}

/**
 * The wasm memory's current buffer. The threaded build exports its shared `WebAssembly.Memory` (whose buffer is
 * always current, even after a worker grew it); the single-threaded build grows only on this thread, which keeps
 * `HEAPU8` current.
 */
export function heapBuffer(backend: BackendWasm): ArrayBufferLike {
  const module = backend.wasm as unknown as { wasmMemory?: WebAssembly.Memory; HEAPU8: Uint8Array };
  return module.wasmMemory?.buffer ?? module.HEAPU8.buffer;
}

/** Padding of a 2-D convolution as tfjs computed it (`backend_util.computeConv2DInfo`). */
export interface ConvGeometry {
  readonly info: tf.backend_util.Conv2DInfo;
  readonly padTop: number;
  readonly padBottom: number;
  readonly padLeft: number;
  readonly padRight: number;
}

/**
 * tfjs's conv geometry for NHWC input `xShape` and filter `filterShape` (dilation 1, the only one tfjs's conv
 * gradients accept).
 * @throws Error for NCHW, which the wasm backend's convolutions reject too
 */
export function convGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: [number, number] | number,
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding,
  dataFormat: 'NHWC' | 'NCHW' | undefined,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  kernelName: string,
): ConvGeometry {
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  if (format !== 'channelsLast') {
    throw new Error(`wasm ${kernelName} supports only NHWC (channelsLast) data; got dataFormat '${dataFormat}'.`);
  }
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, format);
  return {
    info,
    padTop: info.padInfo.top,
    padBottom: info.padInfo.bottom,
    padLeft: info.padInfo.left,
    padRight: info.padInfo.right,
  };
}
