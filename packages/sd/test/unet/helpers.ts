/**
 * Shared helpers of the UNet tests: the tiny SD 1.x fixture model, its cases as NHWC tensors, and the diffusers-format
 * LoRA file parsed into the canonical map.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { readJsonConfig } from '../../src/io/config';
import { readSafetensors } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/io/safetensors';
import type { LoraLayerWeights } from '../../src/lora/types';
import { parseUNetConfig } from '../../src/unet/config';
import { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { fixture, nchwToNhwc } from '../parity';

export const UNET_DIR = fixture('parity', 'unet-tiny-sd1');
export const LORA_DIR = fixture('parity', 'lora-tiny');

/** The fixture's weights, read once per test file. */
let cachedWeights: ReadonlyMap<string, HostTensor> | undefined;
export function tinyWeights(): ReadonlyMap<string, HostTensor> {
  cachedWeights ??= readSafetensors(`${UNET_DIR}/diffusion_pytorch_model.safetensors`).tensors;
  return cachedWeights;
}

export function tinyConfig() {
  return parseUNetConfig(readJsonConfig(`${UNET_DIR}/config.json`));
}

export function loadTinyUnet(): UNet2DConditionModel {
  return UNet2DConditionModel.fromWeights(tinyConfig(), tinyWeights(), { source: 'unet-tiny-sd1' });
}

/** An NCHW host tensor → NHWC Float32Array with its NHWC shape. */
export function toNhwc(t: HostTensor): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, c, h, w] = t.shape as [number, number, number, number];
  return { data: nchwToNhwc(t.data, [n, c, h, w]), shape: [n, h, w, c] };
}

/** A case file's inputs as tfjs tensors (caller disposes) and its expected outputs (NHWC host arrays). */
export function readCase(path: string): {
  latents: tf.Tensor4D;
  timesteps: tf.Tensor1D;
  context: tf.Tensor3D;
  expected: Map<string, { data: Float32Array; shape: number[] }>;
} {
  const file = readSafetensors(path).tensors;
  const sample = toNhwc(file.get('sample') as HostTensor);
  const ehs = file.get('encoder_hidden_states') as HostTensor;
  const ts = file.get('timestep') as HostTensor;
  const expected = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const name of ['out', 'out_base']) {
    const t = file.get(name);
    if (t) {
      const nhwc = toNhwc(t);
      expected.set(name, { data: nhwc.data, shape: nhwc.shape });
    }
  }
  return {
    latents: tf.tensor4d(sample.data, sample.shape),
    timesteps: tf.tensor1d(ts.data as Float32Array),
    context: tf.tensor3d(ehs.data as Float32Array, ehs.shape as [number, number, number]),
    expected,
  };
}

/**
 * Parses diffusers 0.25.1's LoRA file keys `unet.<module>.lora.down.weight` / `.lora.up.weight` into the canonical map.
 * (Test-local on purpose: the library's file readers belong to the I/O layer.)
 */
export function readDiffusersLora(path: string): Map<string, LoraLayerWeights> {
  const tensors = readSafetensors(path).tensors;
  const parts = new Map<string, { down?: HostTensor; up?: HostTensor }>();
  for (const [key, tensor] of tensors) {
    const m = /^unet\.(.+)\.lora\.(down|up)\.weight$/.exec(key);
    if (!m) throw new Error(`unexpected LoRA key ${key}`);
    const entry = parts.get(m[1] as string) ?? {};
    entry[m[2] as 'down' | 'up'] = tensor;
    parts.set(m[1] as string, entry);
  }
  const out = new Map<string, LoraLayerWeights>();
  for (const [module, { down, up }] of parts) {
    if (!down || !up) throw new Error(`incomplete LoRA pair for ${module}`);
    out.set(module, { down, up });
  }
  return out;
}

export const BACKENDS = ['cpu', 'wasm'] as const;

export async function useBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}
