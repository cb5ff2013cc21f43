/**
 * Seeded random PyTorch-layout weights for a UNet config (tests only): matrices and kernels ~ N(0, 1/fan_in), biases
 * 0.05·N(0, 1), norm weights 1 + 0.1·N(0, 1) — the same spirit as the fixtures' perturbed init, so every parameter matters.
 */
import { Rng } from '@erase/core';
import type { HostTensor } from '../../src/io/safetensors';

export function randomWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [key, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const isNormWeight = shape.length === 1 && key.endsWith('.weight');
    const isBias = key.endsWith('.bias');
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < size; i++) {
      const n = rng.normal();
      data[i] = isNormWeight ? 1 + 0.1 * n : isBias ? 0.05 * n : n / Math.sqrt(fanIn);
    }
    out.set(key, { dtype: 'float32', fileDtype: 'F32', shape: [...shape], data });
  }
  return out;
}
