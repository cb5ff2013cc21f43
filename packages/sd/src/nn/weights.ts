/**
 * Weight plumbing shared by every SD module: PyTorch ↔ tfjs layouts, a name-keyed weight view that modules
 * read from, and helpers that list the PyTorch-layout shapes a module expects (for `checkWeightKeys`).
 *
 * Notation:
 *   PyTorch Linear weight  [out, in]            ↔ tfjs [in, out]            (layout 'linear')
 *   PyTorch Conv2d weight  [out, in, kh, kw]    ↔ tfjs [kh, kw, in, out]    (layout 'conv2d')
 *   anything else (biases, norm affine, embedding tables) is copied as is  (layout 'plain')
 *
 * The conversion happens once, at load time, on the host (typed-array loops), so no backend ever holds two
 * copies of a weight and the result does not depend on the backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, WeightKeysError } from '@erase/core';
import type { HostTensor } from '../io/safetensors';

/** How a PyTorch tensor maps to its tfjs layout. */
export type TorchLayout = 'linear' | 'conv2d' | 'plain';

/** An additive low-rank path on a Linear: `y += scale · (x Aᵀ) Bᵀ` (see `linear`). */
export interface LinearAdapter {
  /** A (`lora.down`), float32 [r, in] (PyTorch layout, as in core's `LoraAdapter`). */
  readonly down: tf.Tensor;
  /** B (`lora.up`), float32 [out, r]. */
  readonly up: tf.Tensor;
  /** The full multiplier on `B A x`: α / r × the adapter's user scale. */
  readonly scale: number;
}

/**
 * Where a module finds its weights, by diffusers/transformers state-dict name (`down_blocks.0.resnets.0.conv1.weight`),
 * already in tfjs layout. Tensors are owned by the view's creator; modules never dispose them.
 */
export interface ModuleWeights {
  /** The tensor stored under `key`. @throws WeightKeysError (one missing key) when absent. */
  get(key: string): tf.Tensor;
  /** The tensor stored under `key`, or `undefined` (optional biases). */
  find(key: string): tf.Tensor | undefined;
  /** A LoRA-style adapter on the Linear (or 1×1 conv) module at `modulePath` (no `.weight` suffix), if one is attached. */
  linearAdapter?(modulePath: string): LinearAdapter | undefined;
}

/**
 * A `ModuleWeights` view over a map of tfjs-layout tensors (e.g. a model's variables).
 * @param source named in the error when a key is absent
 * @param adapters optional per-module adapters consulted by `linearModule`
 */
export function mapWeights(
  map: ReadonlyMap<string, tf.Tensor>,
  source = 'weights',
  adapters?: (modulePath: string) => LinearAdapter | undefined,
): ModuleWeights {
  const view: ModuleWeights = {
    get(key) {
      const found = map.get(key);
      if (!found) throw new WeightKeysError({ source, missing: [key] });
      return found;
    },
    find: (key) => map.get(key),
  };
  if (adapters) view.linearAdapter = adapters;
  return view;
}

/** The layout a tensor of this PyTorch shape usually has: rank 4 → conv2d, rank 2 → linear, else plain. Embeddings must pass 'plain'. */
export function defaultTorchLayout(shape: readonly number[]): TorchLayout {
  if (shape.length === 4) return 'conv2d';
  if (shape.length === 2) return 'linear';
  return 'plain';
}

/** PyTorch shape → tfjs shape for a layout. @throws InvalidOptionError when the rank does not fit the layout. */
export function tfShapeOf(torchShape: readonly number[], layout: TorchLayout): number[] {
  if (layout === 'plain') return [...torchShape];
  if (layout === 'linear') {
    const [out, inF] = expectRank(torchShape, 2, layout);
    return [inF as number, out as number];
  }
  const [out, inC, kh, kw] = expectRank(torchShape, 4, layout);
  return [kh as number, kw as number, inC as number, out as number];
}

/** tfjs shape → PyTorch shape for a layout (inverse of `tfShapeOf`). */
export function torchShapeOf(tfShape: readonly number[], layout: TorchLayout): number[] {
  if (layout === 'plain') return [...tfShape];
  if (layout === 'linear') {
    const [inF, out] = expectRank(tfShape, 2, layout);
    return [out as number, inF as number];
  }
  const [kh, kw, inC, out] = expectRank(tfShape, 4, layout);
  return [out as number, inC as number, kh as number, kw as number];
}

/**
 * Rearranges PyTorch-layout values into tfjs layout on the host. Returns a new Float32Array.
 * @throws InvalidOptionError for a non-float tensor or a rank that does not fit the layout
 */
export function torchToTfData(host: HostTensor, layout: TorchLayout): { shape: number[]; data: Float32Array } {
  if (host.dtype !== 'float32') {
    throw new InvalidOptionError({ option: 'weight dtype', expected: 'a floating-point tensor', received: host.dtype });
  }
  const src = host.data as Float32Array;
  const shape = tfShapeOf(host.shape, layout);
  if (layout === 'plain') return { shape, data: Float32Array.from(src) };
  const data = new Float32Array(src.length);
  if (layout === 'linear') {
    const [out, inF] = host.shape as [number, number];
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) data[i * out + o] = src[o * inF + i] as number;
    return { shape, data };
  }
  const [out, inC, kh, kw] = host.shape as [number, number, number, number];
  for (let o = 0; o < out; o++)
    for (let c = 0; c < inC; c++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) {
          data[((y * kw + x) * inC + c) * out + o] = src[((o * inC + c) * kh + y) * kw + x] as number;
        }
  return { shape, data };
}

/** Inverse of `torchToTfData`: tfjs-layout values (with their tfjs shape) → PyTorch-layout HostTensor (`fileDtype` F32). */
export function tfToTorchData(data: Float32Array, tfShape: readonly number[], layout: TorchLayout): HostTensor {
  const shape = torchShapeOf(tfShape, layout);
  if (layout === 'plain') return { dtype: 'float32', fileDtype: 'F32', shape, data: Float32Array.from(data) };
  const out = new Float32Array(data.length);
  if (layout === 'linear') {
    const [inF, outF] = tfShape as [number, number];
    for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) out[o * inF + i] = data[i * outF + o] as number;
    return { dtype: 'float32', fileDtype: 'F32', shape, data: out };
  }
  const [kh, kw, inC, outC] = tfShape as [number, number, number, number];
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < inC; c++)
        for (let o = 0; o < outC; o++) {
          out[((o * inC + c) * kh + y) * kw + x] = data[((y * kw + x) * inC + c) * outC + o] as number;
        }
  return { dtype: 'float32', fileDtype: 'F32', shape, data: out };
}

/**
 * A PyTorch-layout host tensor → a tfjs Variable in tfjs layout (float32). The caller owns the variable.
 * @param trainable default false: weights are frozen until a method switches them on
 */
export function variableFromTorch(host: HostTensor, layout: TorchLayout = defaultTorchLayout(host.shape), trainable = false): tf.Variable {
  const { shape, data } = torchToTfData(host, layout);
  return tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), trainable));
}

/** A tfjs-layout tensor → a PyTorch-layout HostTensor (reads the data synchronously; not for use inside a forward pass). */
export function tensorToTorch(tensor: tf.Tensor, layout: TorchLayout = defaultTorchLayout(tensor.shape)): HostTensor {
  const data = tensor.dataSync() as Float32Array;
  return tfToTorchData(data, tensor.shape, layout);
}

/** Expected PyTorch-layout shapes, keyed by state-dict name. */
export type WeightShapes = Map<string, number[]>;

/** Adds `path.weight` [out, in] (+ `path.bias` [out]) of a PyTorch Linear. */
export function addLinearShapes(shapes: WeightShapes, path: string, inFeatures: number, outFeatures: number, bias = true): void {
  shapes.set(`${path}.weight`, [outFeatures, inFeatures]);
  if (bias) shapes.set(`${path}.bias`, [outFeatures]);
}

/** Adds `path.weight` [out, in, k, k] (+ `path.bias` [out]) of a PyTorch Conv2d. */
export function addConv2dShapes(shapes: WeightShapes, path: string, inChannels: number, outChannels: number, kernel: number, bias = true): void {
  shapes.set(`${path}.weight`, [outChannels, inChannels, kernel, kernel]);
  if (bias) shapes.set(`${path}.bias`, [outChannels]);
}

/** Adds `path.weight` [C] and `path.bias` [C] of a GroupNorm/LayerNorm. */
export function addNormShapes(shapes: WeightShapes, path: string, channels: number): void {
  shapes.set(`${path}.weight`, [channels]);
  shapes.set(`${path}.bias`, [channels]);
}

function expectRank(shape: readonly number[], rank: number, layout: TorchLayout): number[] {
  if (shape.length !== rank) {
    throw new InvalidOptionError({ option: 'weight shape', expected: `rank ${rank} for layout '${layout}'`, received: `[${shape.join(', ')}]` });
  }
  return [...shape];
}
