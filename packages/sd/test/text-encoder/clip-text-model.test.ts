// CLIPTextModel without the fixture forward: a second config (gelu, first-eos pooling, text_projection), weight keys,
// config validation, input validation, export round trip, leaks.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError, Rng, ShapeMismatchError, UnsupportedError, WeightKeysError, ensureGradients } from '@erase/core';
import { readJsonConfig } from '../../src/io/config';
import { readSafetensors } from '../../src/io/safetensors';
import { CLIPTextModel, clipTextWeightShapes, parseClipTextConfig } from '../../src/text-encoder/index';
import { fixture } from '../parity';

const dir = fixture('parity', 'clip-text-tiny');

/** A second, differently shaped config: exact gelu, 3 layers, 2 heads, eos 7 (not legacy), with projection. */
const geluConfig = {
  vocab_size: 50,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 3,
  num_attention_heads: 2,
  max_position_embeddings: 12,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 8,
  bos_token_id: 6,
  eos_token_id: 7,
  pad_token_id: 0,
  architectures: ['CLIPTextModelWithProjection'],
};

function randomWeights(config: Record<string, unknown>, seed: number): Map<string, tf.Tensor> {
  const rng = new Rng(seed);
  const shapes = clipTextWeightShapes(parseClipTextConfig(config), true);
  const out = new Map<string, tf.Tensor>();
  for (const [key, shape] of shapes) {
    const isNormWeight = /layer_norm\d?\.weight$/.test(key);
    out.set(key, rng.normalTensor(shape, isNormWeight ? 0.1 : 0.2, isNormWeight ? 1 : 0));
  }
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('CLIPTextModel at a second config (gelu, eos 7, text_projection)', () => {
  it('runs forward with the expected shapes, pools at the first eos and projects the pooled vector', async () => {
    const weights = randomWeights(geluConfig, 11);
    const model = CLIPTextModel.fromWeights(geluConfig, weights);
    expect(model.hasProjection).toBe(true);
    // Row 0: eos (7) at 3 and 5, larger ids (49) after it; row 1: no eos until the end (position 9 of 10).
    const ids = tf.tensor2d([[6, 2, 3, 7, 49, 7, 40, 41, 42, 0], [6, 9, 8, 9, 8, 9, 8, 9, 8, 7]], [2, 10], 'int32');
    const before = tf.memory().numTensors;
    const out = model.forward(ids, { outputHiddenStates: true });
    expect(tf.memory().numTensors).toBe(before + 3 + 4);
    expect(out.lastHiddenState.shape).toEqual([2, 10, 16]);
    expect(out.poolerOutput.shape).toEqual([2, 16]);
    expect(out.textEmbeds?.shape).toEqual([2, 8]);
    expect(out.hiddenStates?.map((h) => h.shape)).toEqual(Array(4).fill([2, 10, 16]));
    const last = (await out.lastHiddenState.array()) as number[][][];
    const pooled = (await out.poolerOutput.array()) as number[][];
    expect(pooled[0]).toEqual(last[0]?.[3]);
    expect(pooled[1]).toEqual(last[1]?.[9]);
    // text_embeds = pooled · Wᵀ with W [P, D] as stored in the checkpoint, computed here on the host.
    const w = (await (weights.get('text_projection.weight') as tf.Tensor).array()) as number[][];
    const embeds = (await (out.textEmbeds as tf.Tensor).array()) as number[][];
    for (let b = 0; b < 2; b++) {
      for (let p = 0; p < 8; p++) {
        const want = (pooled[b] as number[]).reduce((s, x, d) => s + x * ((w[p] as number[])[d] as number), 0);
        expect((embeds[b] as number[])[p]).toBeCloseTo(want, 5);
      }
    }
    // Causality: changing the last token leaves every earlier position unchanged.
    const ids2 = tf.tensor2d([[6, 2, 3, 7, 49, 7, 40, 41, 42, 1], [6, 9, 8, 9, 8, 9, 8, 9, 8, 7]], [2, 10], 'int32');
    const other = model.encode(ids2);
    const otherRows = (await other.array()) as number[][][];
    expect(otherRows[0]?.slice(0, 9)).toEqual(last[0]?.slice(0, 9));
    expect(otherRows[0]?.[9]).not.toEqual(last[0]?.[9]);
    tf.dispose([ids, ids2, other, out.lastHiddenState, out.poolerOutput, out.textEmbeds as tf.Tensor, ...(out.hiddenStates ?? [])]);
    model.dispose();
    tf.dispose([...weights.values()]);
  });

  it('clipSkip k equals final_layer_norm applied to hidden_states[-(k+1)]', async () => {
    const weights = randomWeights(geluConfig, 12);
    const model = CLIPTextModel.fromWeights(geluConfig, weights);
    const ids = tf.tensor2d([[6, 5, 4, 7]], [1, 4], 'int32');
    const out = model.forward(ids, { outputHiddenStates: true });
    const hidden = out.hiddenStates ?? [];
    const gamma = weights.get('text_model.final_layer_norm.weight') as tf.Tensor;
    const beta = weights.get('text_model.final_layer_norm.bias') as tf.Tensor;
    for (const k of [0, 1, 2, 3]) {
      const h = (await (hidden[3 - k] as tf.Tensor).array()) as number[][][];
      const g = (await gamma.array()) as number[];
      const bt = (await beta.array()) as number[];
      const encoded = model.encode(ids, { clipSkip: k });
      const got = (await encoded.array()) as number[][][];
      for (let t = 0; t < 4; t++) {
        const row = h[0]?.[t] as number[];
        const mean = row.reduce((s, x) => s + x, 0) / row.length;
        const variance = row.reduce((s, x) => s + (x - mean) ** 2, 0) / row.length;
        const want = row.map((x, d) => ((x - mean) / Math.sqrt(variance + 1e-5)) * (g[d] as number) + (bt[d] as number));
        want.forEach((v, d) => expect(got[0]?.[t]?.[d]).toBeCloseTo(v, 4));
      }
      encoded.dispose();
    }
    expect(() => model.encode(ids, { clipSkip: 4 })).toThrow(InvalidOptionError);
    expect(() => model.encode(ids, { clipSkip: 0.5 })).toThrow(InvalidOptionError);
    tf.dispose([ids, out.lastHiddenState, out.poolerOutput, out.textEmbeds as tf.Tensor, ...hidden]);
    model.dispose();
    tf.dispose([...weights.values()]);
  });
});

describe('CLIPTextModel gradients', () => {
  it('weights are frozen variables; a weight switched to trainable gets the finite-difference gradient', async () => {
    await ensureGradients();
    const weights = randomWeights(geluConfig, 13);
    const model = CLIPTextModel.fromWeights(geluConfig, weights);
    expect([...model.parameters().values()].every((v) => !v.trainable)).toBe(true);
    const target = model.parameters().get('text_model.encoder.layers.0.self_attn.q_proj.weight') as tf.Variable;
    const ids = tf.tensor2d([[6, 3, 9, 7, 2]], [1, 5], 'int32');
    const probe = new Rng(14).normalTensor([1, 5, 16]);
    const loss = (): tf.Scalar => tf.tidy(() => tf.sum(tf.mul(model.encode(ids, { validateIds: false }), probe)));
    target.trainable = true;
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(loss, [target]);
    expect(tf.memory().numTensors).toBe(before + 2);
    const grad = grads[target.name] as tf.Tensor;
    expect(grad.shape).toEqual([16, 16]);
    const direction = new Rng(15).normalTensor([16, 16]);
    const analytic = scalarValue(tf.tidy(() => tf.sum(tf.mul(grad, direction))));
    const original = tf.clone(target);
    const h = 1e-2;
    tf.tidy(() => target.assign(tf.add(original, tf.mul(direction, h))));
    const plus = scalarValue(loss());
    tf.tidy(() => target.assign(tf.sub(original, tf.mul(direction, h))));
    const minus = scalarValue(loss());
    target.assign(original);
    expect(Math.abs(analytic - (plus - minus) / (2 * h))).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic)));
    target.trainable = false;
    tf.dispose([value, grad, direction, original]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, probe]);
    model.dispose();
    tf.dispose([...weights.values()]);
  });
});

describe('CLIPTextModel weights and errors', () => {
  it('rejects mismatched weights with one WeightKeysError listing every problem', () => {
    const file = readSafetensors(`${dir}/model.safetensors`).tensors;
    const broken = new Map(file);
    broken.delete('text_model.encoder.layers.1.mlp.fc2.bias');
    broken.delete('text_model.final_layer_norm.weight');
    broken.set('text_model.encoder.layers.7.mlp.fc1.weight', file.get('text_model.encoder.layers.0.mlp.fc1.weight')!);
    broken.set('text_model.embeddings.position_ids', { dtype: 'int32', fileDtype: 'I64', shape: [1, 77], data: new Int32Array(77) });
    broken.set('text_model.encoder.layers.0.self_attn.q_proj.weight', file.get('text_model.encoder.layers.0.mlp.fc1.weight')!);
    const before = tf.memory().numTensors;
    let error: unknown;
    try {
      CLIPTextModel.fromWeights(tinyConfig(), broken, { source: 'broken.safetensors' });
    } catch (e) {
      error = e;
    }
    expect(WeightKeysError.isInstance(error)).toBe(true);
    const e = error as WeightKeysError;
    expect(e.source).toBe('broken.safetensors');
    expect(e.missing).toEqual(['text_model.encoder.layers.1.mlp.fc2.bias', 'text_model.final_layer_norm.weight']);
    expect(e.unexpected).toEqual(['text_model.encoder.layers.7.mlp.fc1.weight']);
    expect(e.wrongShape).toEqual([{ key: 'text_model.encoder.layers.0.self_attn.q_proj.weight', expected: [32, 32], received: [37, 32] }]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('accepts a checkpoint carrying position_ids and round-trips exportWeights to the file tensors', async () => {
    const file = readSafetensors(`${dir}/model.safetensors`).tensors;
    const withIds = new Map(file);
    withIds.set('text_model.embeddings.position_ids', { dtype: 'int32', fileDtype: 'I64', shape: [1, 77], data: new Int32Array(77) });
    const before = tf.memory().numTensors;
    const model = CLIPTextModel.fromWeights(tinyConfig(), withIds);
    expect(model.parameters().size).toBe(36);
    expect(tf.memory().numTensors).toBe(before + 36);
    expect(model.parameters().get('text_model.encoder.layers.0.mlp.fc1.weight')?.shape).toEqual([32, 37]);
    expect(model.tokenEmbeddings().shape).toEqual([1000, 32]);
    const exported = model.exportWeights();
    expect(tf.memory().numTensors).toBe(before + 36);
    expect([...exported.keys()].sort()).toEqual([...file.keys()].sort());
    for (const [key, value] of exported) {
      const ref = file.get(key)!;
      expect(value.shape, key).toEqual(ref.shape);
      expect(Array.from(value.data), key).toEqual(Array.from(ref.data));
    }
    model.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates the config', () => {
    expect(() => parseClipTextConfig({ ...tinyConfig(), hidden_act: 'relu' })).toThrow(UnsupportedError);
    expect(() => parseClipTextConfig({ ...tinyConfig(), num_attention_heads: 5 })).toThrow(InvalidOptionError);
    expect(() => parseClipTextConfig({ ...tinyConfig(), hidden_size: '32' })).toThrow(/hidden_size/);
    expect(() => parseClipTextConfig({ ...tinyConfig(), num_hidden_layers: 1e8 })).toThrow(/num_hidden_layers.*up to 1000/);
    const defaults = parseClipTextConfig({});
    expect(defaults).toMatchObject({ vocabSize: 49408, hiddenSize: 512, numHiddenLayers: 12, eosTokenId: 49407, hiddenAct: 'quick_gelu' });
  });

  it('rejects bad input ids with typed errors and a disposed model with InvalidOptionError', async () => {
    const model = CLIPTextModel.fromWeights(tinyConfig(), readSafetensors(`${dir}/model.safetensors`).tensors);
    const tooLong = tf.zeros([1, 78], 'int32') as tf.Tensor2D;
    const floats = tf.zeros([1, 4], 'float32') as tf.Tensor2D;
    const outOfRange = tf.tensor2d([[998, 1000]], [1, 2], 'int32');
    const negative = tf.tensor2d([[-1, 3]], [1, 2], 'int32');
    expect(() => model.forward(tooLong)).toThrow(ShapeMismatchError);
    expect(() => model.encode(tf.zeros([4], 'int32') as unknown as tf.Tensor2D)).toThrow(ShapeMismatchError);
    expect(() => model.forward(floats)).toThrow(InvalidOptionError);
    expect(() => model.forward(outOfRange)).toThrow(/\[0, 1000\)/);
    expect(() => model.encode(negative)).toThrow(InvalidOptionError);
    model.dispose();
    const ids = tf.tensor2d([[1]], [1, 1], 'int32');
    let disposedError: unknown;
    try {
      model.encode(ids);
    } catch (e) {
      disposedError = e;
    }
    ids.dispose();
    // the model's own guard, not tfjs's "Tensor is disposed" from a freed weight
    expect(InvalidOptionError.isInstance(disposedError) && disposedError.option).toBe('CLIPTextModel');
    tf.dispose([tooLong, floats, outOfRange, negative]);
  });

  it('fromPretrained names the missing folder with a FileFormatError', async () => {
    const error = await CLIPTextModel.fromPretrained('/nonexistent/text_encoder').catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/\/nonexistent\/text_encoder/);
  });
});

/** The value of a scalar tensor, which is then disposed. */
function scalarValue(t: tf.Tensor): number {
  const value = t.dataSync()[0] as number;
  t.dispose();
  return value;
}

function tinyConfig(): Record<string, unknown> {
  return readJsonConfig(`${dir}/config.json`);
}
