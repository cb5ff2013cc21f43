// Parity of CLIPTextModel with transformers 4.33 on the clip-text-tiny fixture (cpu and wasm).
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, type HostTensor } from '../../src/io/safetensors';
import { CLIPTextModel } from '../../src/text-encoder/index';
import { compareArrays, fixture } from '../parity';

const atol = 1e-4;
const dir = fixture('parity', 'clip-text-tiny');
const reference = readSafetensors(`${dir}/case_batch2.safetensors`).tensors;

function expected(name: string): HostTensor {
  const t = reference.get(name);
  if (!t) throw new Error(`case_batch2 has no tensor ${name}`);
  return t;
}

describe.each(['cpu', 'wasm'])('CLIPTextModel parity on %s (clip-text-tiny, case_batch2)', (backend) => {
  let model: CLIPTextModel;
  let ids: tf.Tensor2D;
  const maxDiffs: Record<string, number> = {};

  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
    model = await CLIPTextModel.fromPretrained(dir);
    const inputIds = expected('input_ids');
    ids = tf.tensor2d(inputIds.data, [inputIds.shape[0] as number, inputIds.shape[1] as number], 'int32');
  });

  afterAll(() => {
    ids.dispose();
    model.dispose();
    console.log(`[clip-text-tiny ${backend}] max abs diffs:`, maxDiffs);
  });

  const check = async (name: string, actual: tf.Tensor): Promise<void> => {
    const ref = expected(name);
    expect(actual.shape).toEqual(ref.shape);
    const c = compareArrays(`${backend} ${name}`, await actual.data(), ref.data, ref.shape, atol);
    maxDiffs[name] = c.maxAbsDiff;
    expect(c.maxAbsDiff, c.report).toBeLessThanOrEqual(atol);
  };

  it('matches last_hidden_state, pooler_output and every hidden state', async () => {
    const out = model.forward(ids, { outputHiddenStates: true });
    const hidden = out.hiddenStates ?? [];
    expect(hidden).toHaveLength(3);
    expect(out.textEmbeds).toBeUndefined();
    await check('last_hidden_state', out.lastHiddenState);
    await check('pooler_output', out.poolerOutput);
    for (let i = 0; i < hidden.length; i++) await check(`hidden_states_${i}`, hidden[i] as tf.Tensor);
    await check('hidden_states_minus2', hidden[hidden.length - 2] as tf.Tensor);
    tf.dispose([out.lastHiddenState, out.poolerOutput, ...hidden]);
  });

  it('encode() gives the last hidden state, and clipSkip 1 gives final_layer_norm(hidden_states[-2])', async () => {
    const plain = model.encode(ids);
    await check('last_hidden_state', plain);
    const skipped = model.encode(ids, { clipSkip: 1 });
    await check('hidden_states_minus2_final_ln', skipped);
    tf.dispose([plain, skipped]);
  });

  it('pools at argmax(input_ids) (legacy eos_token_id 2): positions 8 and 76', async () => {
    const out = model.forward(ids);
    const last = (await out.lastHiddenState.array()) as number[][][];
    const pooled = (await out.poolerOutput.array()) as number[][];
    expect(pooled[0]).toEqual(last[0]?.[8]);
    expect(pooled[1]).toEqual(last[1]?.[76]);
    tf.dispose([out.lastHiddenState, out.poolerOutput]);
  });

  it('forward and encode leave no tensors behind', () => {
    const before = tf.memory().numTensors;
    const out = model.forward(ids, { outputHiddenStates: true });
    const returned = 2 + (out.hiddenStates?.length ?? 0);
    expect(tf.memory().numTensors).toBe(before + returned);
    tf.dispose([out.lastHiddenState, out.poolerOutput, ...(out.hiddenStates ?? [])]);
    const encoded = model.encode(ids, { clipSkip: 1 });
    expect(tf.memory().numTensors).toBe(before + 1);
    encoded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
