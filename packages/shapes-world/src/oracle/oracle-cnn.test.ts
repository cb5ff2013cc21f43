// Tests of the oracle CNN: parameter count, the forward pass against a naive loop implementation that reads the
// saved PyTorch-layout file, BatchNorm statistics, save/load, cpu/wasm agreement, errors and leaks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, Rng, ShapeMismatchError, WeightKeysError } from '@erase/core';
import { readSafetensors, writeSafetensors, type HostTensor } from '@erase/sd';
import type { ImageClassifier } from '../../../eval/src/classifier/image-classifier';
import { CLASS_NAMES } from '../world/vocabulary';
import { OracleClassifier } from './oracle-cnn';
import { loadOracle, saveOracle } from './oracle-weights';

const workDir = mkdtempSync(join(tmpdir(), 'shapes-oracle-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/**
 * Gives every BatchNorm non-trivial running statistics, so inference exercises them; small running variances keep
 * the activations O(1) through the six blocks (with fresh statistics they shrink layer after layer).
 */
function randomizeRunningStatistics(oracle: OracleClassifier, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of oracle.variables()) {
    if (name.endsWith('running_mean')) v.assign(rng.uniformTensor(v.shape, -0.05, 0.05));
    if (name.endsWith('running_var')) v.assign(rng.uniformTensor(v.shape, 0.01, 0.05));
    if (name.endsWith('norm.weight')) v.assign(rng.uniformTensor(v.shape, 0.5, 1.5));
    if (name.endsWith('norm.bias')) v.assign(rng.uniformTensor(v.shape, -0.2, 0.2));
  }
}

/** Conv 3×3, stride 1, zero padding 1, on an HWC image with a PyTorch [out, in, 3, 3] weight. */
function conv3x3(x: Float64Array, h: number, w: number, cin: number, weight: HostTensor, bias: HostTensor): Float64Array {
  const cout = weight.shape[0] as number;
  const y = new Float64Array(h * w * cout);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let o = 0; o < cout; o++) {
        let sum = bias.data[o] as number;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const yi = i + ky - 1;
            const xj = j + kx - 1;
            if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
            for (let c = 0; c < cin; c++) sum += (x[(yi * w + xj) * cin + c] as number) * (weight.data[((o * cin + c) * 3 + ky) * 3 + kx] as number);
          }
        y[(i * w + j) * cout + o] = sum;
      }
  return y;
}

/** The whole network in plain loops, from a state dict in PyTorch layouts (eval mode). Returns logits. */
function referenceLogits(state: ReadonlyMap<string, HostTensor>, image: Float64Array, size: number): number[] {
  let x = image;
  let [h, w, c] = [size, size, 3];
  for (let i = 0; i < 6; i++) {
    const t = (key: string): HostTensor => state.get(`blocks.${i}.${key}`) as HostTensor;
    x = conv3x3(x, h, w, c, t('conv.weight'), t('conv.bias'));
    c = t('conv.weight').shape[0] as number;
    for (let p = 0; p < h * w; p++)
      for (let k = 0; k < c; k++) {
        const normed = ((x[p * c + k] as number) - (t('norm.running_mean').data[k] as number)) / Math.sqrt((t('norm.running_var').data[k] as number) + 1e-5);
        x[p * c + k] = Math.max(0, normed * (t('norm.weight').data[k] as number) + (t('norm.bias').data[k] as number));
      }
    if (i === 1 || i === 3) {
      const pooled = new Float64Array((h / 2) * (w / 2) * c);
      for (let a = 0; a < h / 2; a++)
        for (let b = 0; b < w / 2; b++)
          for (let k = 0; k < c; k++) {
            const at = (yy: number, xx: number): number => x[(yy * w + xx) * c + k] as number;
            pooled[(a * (w / 2) + b) * c + k] = Math.max(at(2 * a, 2 * b), at(2 * a, 2 * b + 1), at(2 * a + 1, 2 * b), at(2 * a + 1, 2 * b + 1));
          }
      x = pooled;
      h /= 2;
      w /= 2;
    }
  }
  const mean = new Float64Array(c);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) mean[k]! += (x[p * c + k] as number) / (h * w);
  const head = state.get('head.weight') as HostTensor;
  const headBias = state.get('head.bias') as HostTensor;
  return Array.from({ length: 10 }, (_, o) => {
    let sum = headBias.data[o] as number;
    for (let k = 0; k < c; k++) sum += (head.data[o * c + k] as number) * (mean[k] as number);
    return sum;
  });
}

describe('OracleClassifier', () => {
  it('has the measured prototype\'s 73,178 trainable parameters and the world\'s class names', async () => {
    await tf.setBackend('cpu');
    const oracle = OracleClassifier.create({ seed: 0 });
    expect(oracle.parameterCount).toBe(73_178);
    expect(oracle.classNames).toEqual(CLASS_NAMES);
    const asEvalClassifier: ImageClassifier = oracle; // structurally an @erase/eval ImageClassifier
    expect(asEvalClassifier.classNames.length).toBe(10);
    oracle.dispose();
  });

  it.each(['cpu', 'wasm'])('on %s: eval-mode logits equal a loop implementation over the saved PyTorch-layout file (rtol 1e-4)', async (backend) => {
    await tf.setBackend(backend);
    const oracle = OracleClassifier.create({ seed: 1 });
    randomizeRunningStatistics(oracle, 2);
    const path = join(workDir, `reference-${backend}.safetensors`);
    await saveOracle(oracle, path);
    const state = readSafetensors(path).tensors;
    const size = 8;
    const images = new Rng(3).uniformTensor([2, size, size, 3], -1, 1) as tf.Tensor4D;
    const logits = oracle.forward(images);
    expect(logits.shape).toEqual([2, 10]);
    const got = await logits.data();
    const pixels = await images.data();
    for (let b = 0; b < 2; b++) {
      const expected = referenceLogits(state, Float64Array.from(pixels.subarray(b * size * size * 3, (b + 1) * size * size * 3)), size);
      const scale = Math.max(...expected.map(Math.abs));
      expect(scale).toBeGreaterThan(0.5); // logits large enough for the comparison to mean something
      const diff = Math.max(...expected.map((e, k) => Math.abs(e - (got[b * 10 + k] as number))));
      expect(diff, `image ${b}: max abs diff ${diff} (largest logit ${scale})`).toBeLessThan(1e-4 * scale);
    }
    // classify = softmax of the same logits: rows sum to 1
    const probabilities = oracle.classify(images);
    const rows = await tf.sum(probabilities, 1).data();
    for (const r of rows) expect(Math.abs(r - 1)).toBeLessThan(1e-5);
    tf.dispose([images, logits, probabilities]);
    oracle.dispose();
  });

  it('forwardTraining returns batch statistics (biased variance) and the running update follows PyTorch (m = 0.1, unbiased)', async () => {
    await tf.setBackend('cpu');
    const oracle = OracleClassifier.create({ seed: 4 });
    const images = new Rng(5).uniformTensor([3, 8, 8, 3], -1, 1) as tf.Tensor4D;
    const { logits, statistics } = oracle.forwardTraining(images);
    expect(statistics.length).toBe(6);
    // block 0's statistics from the loop conv of the first layer
    const vars = oracle.variables();
    const weight = tf.transpose(vars.get('blocks.0.conv.weight') as tf.Tensor, [3, 2, 0, 1]);
    const hostWeight: HostTensor = { dtype: 'float32', fileDtype: 'F32', shape: weight.shape, data: (await weight.data()) as Float32Array };
    const hostBias: HostTensor = { dtype: 'float32', fileDtype: 'F32', shape: [16], data: (await vars.get('blocks.0.conv.bias')!.data()) as Float32Array };
    const pixels = await images.data();
    const sum = new Float64Array(16);
    const squares = new Float64Array(16);
    for (let b = 0; b < 3; b++) {
      const y = conv3x3(Float64Array.from(pixels.subarray(b * 192, (b + 1) * 192)), 8, 8, 3, hostWeight, hostBias);
      for (let p = 0; p < 64; p++) for (let k = 0; k < 16; k++) {
        sum[k]! += y[p * 16 + k] as number;
        squares[k]! += (y[p * 16 + k] as number) ** 2;
      }
    }
    const n = 3 * 64;
    const mean = Array.from(sum, (s) => s / n);
    const variance = Array.from(squares, (s, k) => s / n - (mean[k] as number) ** 2);
    expect(statistics[0]!.count).toBe(n);
    const gotMean = await statistics[0]!.mean.data();
    const gotVariance = await statistics[0]!.variance.data();
    mean.forEach((m, k) => expect(Math.abs(m - (gotMean[k] as number))).toBeLessThan(1e-5));
    variance.forEach((v, k) => expect(Math.abs(v - (gotVariance[k] as number))).toBeLessThan(1e-4));

    const before = tf.memory().numTensors;
    oracle.updateRunningStatistics(statistics);
    expect(tf.memory().numTensors).toBe(before);
    const runningMean = await vars.get('blocks.0.norm.running_mean')!.data();
    const runningVar = await vars.get('blocks.0.norm.running_var')!.data();
    mean.forEach((m, k) => expect(Math.abs((runningMean[k] as number) - 0.1 * m)).toBeLessThan(1e-6));
    variance.forEach((v, k) => expect(Math.abs((runningVar[k] as number) - (0.9 + (0.1 * v * n) / (n - 1)))).toBeLessThan(1e-5));
    expect(() => oracle.updateRunningStatistics(statistics.slice(1))).toThrow(ShapeMismatchError);
    tf.dispose([images, logits, weight, ...statistics.flatMap((s) => [s.mean, s.variance])]);
    oracle.dispose();
  });

  it('save → load reproduces the outputs; loading checks every key and the class names', async () => {
    await tf.setBackend('cpu');
    const oracle = OracleClassifier.create({ seed: 6 });
    randomizeRunningStatistics(oracle, 7);
    const path = join(workDir, 'oracle.safetensors');
    await saveOracle(oracle, path, { heldout_accuracy: '0.5' });
    expect(readSafetensors(path).metadata.heldout_accuracy).toBe('0.5');
    const loaded = loadOracle(path);
    const images = new Rng(8).uniformTensor([2, 24, 24, 3], -1, 1) as tf.Tensor4D;
    const a = oracle.classify(images);
    const b = loaded.classify(images);
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([images, a, b]);
    loaded.dispose();
    oracle.dispose();

    // a file missing head.bias, with an extra key and a wrongly shaped head.weight
    const state = new Map(readSafetensors(path).tensors);
    state.delete('head.bias');
    state.set('extra.weight', { dtype: 'float32', fileDtype: 'F32', shape: [1], data: new Float32Array(1) });
    state.set('head.weight', { dtype: 'float32', fileDtype: 'F32', shape: [64, 10], data: new Float32Array(640) });
    const broken = join(workDir, 'broken.safetensors');
    writeSafetensors(broken, state, { format: 'pt' });
    const error = (() => {
      try {
        loadOracle(broken);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(WeightKeysError.isInstance(error)).toBe(true);
    expect((error as WeightKeysError).missing).toEqual(['head.bias']);
    expect((error as WeightKeysError).unexpected).toEqual(['extra.weight']);
    expect((error as WeightKeysError).wrongShape.map((w) => w.key)).toEqual(['head.weight']);

    const renamed = join(workDir, 'renamed.safetensors');
    writeSafetensors(renamed, readSafetensors(path).tensors, { class_names: JSON.stringify(['a', 'b']) });
    expect(() => loadOracle(renamed)).toThrow(FileFormatError);
    expect(() => loadOracle(join(workDir, 'missing.safetensors'))).toThrow(FileFormatError);
  });

  it('leaves no tensors behind: forward, classify, save, load and dispose', async () => {
    await tf.setBackend('cpu');
    const start = tf.memory().numTensors;
    const oracle = OracleClassifier.create({ seed: 9 });
    const variableCount = oracle.variables().size;
    expect(variableCount).toBe(6 * 6 + 2);
    expect(tf.memory().numTensors).toBe(start + variableCount);
    const images = tf.zeros([1, 24, 24, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const logits = oracle.forward(images, { training: true });
    const probabilities = oracle.classify(images);
    expect(tf.memory().numTensors).toBe(before + 2);
    const path = join(workDir, 'leak.safetensors');
    await saveOracle(oracle, path);
    expect(tf.memory().numTensors).toBe(before + 2);
    const loaded = loadOracle(path);
    expect(tf.memory().numTensors).toBe(before + 2 + variableCount);
    loaded.dispose();
    tf.dispose([logits, probabilities, images]);
    oracle.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('rejects images that are not float32 [B, H, W, 3]', async () => {
    await tf.setBackend('cpu');
    const oracle = OracleClassifier.create({ seed: 10 });
    const gray = tf.zeros([1, 24, 24, 1]) as tf.Tensor4D;
    const ints = tf.zeros([1, 24, 24, 3], 'int32') as tf.Tensor4D;
    const before = tf.memory().numTensors;
    expect(() => oracle.classify(gray)).toThrow(ShapeMismatchError);
    expect(() => oracle.forward(ints)).toThrow(/float32/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([gray, ints]);
    oracle.dispose();
  });
});
