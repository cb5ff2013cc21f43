/**
 * uce(): token selection reported per prompt, projection choice, progress, abort, typed option errors, no leaks.
 * (Numerical parity with the official code is in uce-parity.test.ts.)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError, UnsupportedError, type DiffusionModel, type ProgressEvent } from '@erase/core';
import { uce, type UceOptions } from '../src/index';
import { SeededTextEncoder } from './fakes/seeded-text-encoder';
import { VariableSite } from './fakes/variable-site';

const T = 12;
const D = 5;

function model(sites: VariableSite[]): DiffusionModel & { encoder: SeededTextEncoder } {
  const encoder = new SeededTextEncoder({ length: T, width: D, seed: 1 });
  const unet = { inChannels: 1, sampleSize: 1, contextDim: D, crossAttentionSites: () => sites };
  return { source: 'uce-test', textEncoder: encoder, unet, encoder } as unknown as DiffusionModel & { encoder: SeededTextEncoder };
}

function sites(): VariableSite[] {
  return [0, 1].map((i) => {
    const w = tf.tidy(() => tf.randomNormal([3, D], 0, 0.5, 'float32', i + 1) as tf.Tensor2D);
    const site = new VariableSite(`blocks.${i}.attn2`, 1, w, w);
    w.dispose();
    return site;
  });
}

describe('uce()', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('reports the token slices of both versions', async () => {
    const s = sites();
    const m = model(s);
    const old = await uce(m, { concepts: ['Van Gogh', 'one two three four'], guideConcepts: ['a painting'] });
    // 2023: i_old = 2 (Van Gogh), i_new = 2 (a painting) → L = T − 2; 'one two three four': i_old = 4 → L = T − 4.
    expect(old.statistics.prompts).toEqual([
      { prompt: 'Van Gogh', anchor: 'a painting', eraseStart: 2, anchorStart: 2, rows: T - 2 },
      { prompt: 'one two three four', anchor: 'a painting', eraseStart: 4, anchorStart: 2, rows: T - 4 },
    ]);
    expect(old.statistics.eraseKeyCount).toBe(2 * T - 6);
    expect(old.statistics.preserveKeyCount).toBe(T); // '' always preserved, all T rows
    expect(old.options.preserveScale).toBe(1);
    old.dispose();
    const recent = await uce(m, { version: '2025', concepts: ['Van Gogh'], preserveConcepts: ['cat', 'dog'] });
    expect(recent.statistics.prompts).toEqual([{ prompt: 'Van Gogh', anchor: '', eraseStart: 2, anchorStart: 0, rows: 1 }]);
    expect(recent.statistics.preserveKeyCount).toBe(2);
    recent.dispose();
    for (const x of s) x.dispose();
  });

  it('edits only the requested projections, reports progress and leaks nothing', async () => {
    const s = sites();
    const m = model(s);
    const k0 = Array.from(await s[0]!.weights.to_k.data());
    const v0 = Array.from(await s[0]!.weights.to_v.data());
    const events: ProgressEvent[] = [];
    const before = tf.memory().numTensors;
    const result = await uce(m, { concepts: ['cat'], projections: ['to_v'], onProgress: (e) => events.push(e) });
    expect([...result.weights.keys()]).toEqual(['blocks.0.attn2.to_v', 'blocks.1.attn2.to_v']);
    expect(Array.from(await s[0]!.weights.to_k.data())).toEqual(k0);
    expect(Array.from(await s[0]!.weights.to_v.data())).not.toEqual(v0);
    expect(events.map((e) => e.stage)).toEqual(['uce.encode', 'closed-form.edit', 'closed-form.edit']);
    for (const p of result.statistics.projections) expect(p.residualAfter).toBeLessThan(p.residualBefore);
    result.dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const x of s) x.dispose();
  });

  it('aborts with the model unchanged and refuses models without cross-attention', async () => {
    const s = sites();
    const m = model(s);
    const k0 = Array.from(await s[1]!.weights.to_k.data());
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const run = uce(m, {
      concepts: ['cat'],
      signal: controller.signal,
      onProgress: (e) => {
        if (e.stage === 'closed-form.edit') controller.abort();
      },
    });
    await expect(run).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(Array.from(await s[1]!.weights.to_k.data())).toEqual(k0);
    expect(tf.memory().numTensors).toBe(before);
    await expect(uce(model([]), { concepts: ['cat'] })).rejects.toSatisfy((e) => UnsupportedError.isInstance(e));
    for (const x of s) x.dispose();
  });

  it('validates options with typed errors', async () => {
    const s = sites();
    const m = model(s);
    const invalid = async (options: unknown, option: string): Promise<void> => {
      const error = await uce(m, options as UceOptions).then(() => undefined, (e: unknown) => e);
      expect(InvalidOptionError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(option);
    };
    await invalid({ concepts: [] }, 'concepts');
    await invalid({ concepts: 'cat' }, 'concepts');
    await invalid({ concepts: ['a', 'b', 'c'], guideConcepts: ['x', 'y'] }, 'guideConcepts');
    await invalid({ concepts: ['a', 'b'], guideConcepts: ['x', 'y', 'z'], version: '2025' }, 'guideConcepts');
    await invalid({ concepts: ['a'], version: '2024' }, 'version');
    await invalid({ concepts: ['a'], technique: 'erase' }, 'technique');
    await invalid({ concepts: ['a'], lambda: -1 }, 'lambda');
    await invalid({ concepts: ['a'], preserveScale: Number.POSITIVE_INFINITY }, 'preserveScale');
    await invalid({ concepts: ['a'], projections: ['to_k', 'to_k'] }, 'projections');
    await invalid({ concepts: ['a'], expandPrompts: 'style' }, 'expandPrompts');
    await invalid({ concepts: ['a'], preserve: ['b'] }, 'preserve');
    await invalid({ concepts: ['a'], inPlace: 1 }, 'inPlace');
    for (const x of s) x.dispose();
  });
});
