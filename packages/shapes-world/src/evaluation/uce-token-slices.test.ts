import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { fakeWorld, type FakeWorld } from './test-fakes';
import { sliceRows, uceTokenSlices } from './uce-token-slices';
import { wordErasureKeys } from './word-erasure';

/** UCE 2023's own slice expressions (train_erase.py::edit_model), written out independently. */
function uceReference(eraseLength: number, anchorLength: number, t: number): { old: [number, number]; anchor: [number, number] } {
  const finalTokenIdx = eraseLength - 2;
  const finalTokenIdxNew = anchorLength - 2;
  const farthest = Math.max(finalTokenIdxNew, finalTokenIdx);
  return {
    old: [finalTokenIdx, t - Math.max(0, farthest - finalTokenIdx)],
    anchor: [finalTokenIdxNew, t - Math.max(0, farthest - finalTokenIdxNew)],
  };
}

describe('uceTokenSlices', () => {
  it('cuts "a photo of the circle" (7 tokens) against " " (<bos> <eos>) as rows 5…15 and 0…10 of T = 16', () => {
    // <bos> a photo of the circle <eos> <eos>×9  vs  <bos> <eos> <eos>×14
    expect(uceTokenSlices(7, 2, 16)).toEqual({ eraseStart: 5, anchorStart: 0, length: 11 });
  });

  it('aligns a longer anchor from its own last word and cuts both to the same length', () => {
    // "circle" = <bos> circle <eos> (3) vs "a photo of the" = <bos> a photo of the <eos> (6): i_e = 1, i_a = 4, L = 12
    expect(uceTokenSlices(3, 6, 16)).toEqual({ eraseStart: 1, anchorStart: 4, length: 12 });
    // a full context: only the last word and the final <eos> remain
    expect(uceTokenSlices(16, 2, 16)).toEqual({ eraseStart: 14, anchorStart: 0, length: 2 });
  });

  it("matches UCE 2023's slice expressions for every pair of lengths", () => {
    for (const t of [4, 16, 77]) {
      for (let e = 2; e <= t; e++) {
        for (let a = 2; a <= t; a++) {
          const s = uceTokenSlices(e, a, t);
          const ref = uceReference(e, a, t);
          expect([s.eraseStart, s.eraseStart + s.length]).toEqual(ref.old);
          expect([s.anchorStart, s.anchorStart + s.length]).toEqual(ref.anchor);
        }
      }
    }
  });

  it('rejects lengths that no tokenized prompt can have', () => {
    expect(() => uceTokenSlices(1, 2, 16)).toThrow(InvalidOptionError);
    expect(() => uceTokenSlices(7, 17, 16)).toThrow(/anchorLength/);
    expect(() => uceTokenSlices(7.5, 2, 16)).toThrow(/eraseLength/);
    expect(() => uceTokenSlices(2, 2, 1)).toThrow(/maxLength/);
  });
});

describe('sliceRows', () => {
  it('copies the requested rows of a [T, D] block', () => {
    const states = Float32Array.from({ length: 16 * 2 }, (_, i) => Math.floor(i / 2) + (i % 2) / 2); // row p = [p, p + 0.5]
    const rows = sliceRows(states, 2, 5, 11);
    expect(Array.from(rows.subarray(0, 4))).toEqual([5, 5.5, 6, 6.5]);
    expect(Array.from(rows.subarray(20))).toEqual([15, 15.5]);
    expect(() => sliceRows(states, 2, 6, 11)).toThrow(InvalidOptionError);
    expect(() => sliceRows(states, 3, 0, 1)).toThrow(/dim/);
  });
});

describe('wordErasureKeys on the world tokenizer', () => {
  let world: FakeWorld;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    world = fakeWorld({ tiedSynonyms: false });
  });
  afterAll(() => world.dispose());

  it('tokenizes the measured prompts as one token per word', () => {
    const { lengths } = world.model.textEncoder.tokenize(['a photo of the circle', ' ', '', 'a photo of the']);
    expect(lengths).toEqual([7, 2, 2, 6]);
  });

  it('takes the erase rows from the word on, the anchor rows from <bos> on, and every preserved row', async () => {
    const encoder = world.model.textEncoder;
    const before = tf.memory().numTensors;
    const keys = await wordErasureKeys(encoder, {
      erasePrompt: 'a photo of the circle',
      anchorPrompt: ' ',
      preservePrompts: ['a photo of the square', 'a photo of the star'],
      probePrompts: ['a photo of the disc', 'circle'],
    });
    expect(tf.memory().numTensors).toBe(before);
    const encoded = encoder.encodePrompts(['a photo of the circle', ' ', 'a photo of the square', 'a photo of the star', 'a photo of the disc', 'circle']);
    const all = encoded.arraySync();
    encoded.dispose();
    const rows = (n: number, from: number, to: number): number[] => (all[n] as number[][]).slice(from, to).flat();
    expect(keys.slices).toEqual({ eraseStart: 5, anchorStart: 0, length: 11 });
    expect([keys.eraseKeys.rows, keys.eraseKeys.cols]).toEqual([11, 48]);
    expect(Array.from(keys.eraseKeys.data)).toEqual(rows(0, 5, 16));
    expect(Array.from(keys.anchorKeys.data)).toEqual(rows(1, 0, 11));
    expect(keys.preserveKeys?.rows).toBe(32);
    expect(Array.from(keys.preserveKeys?.data ?? [])).toEqual([...rows(2, 0, 16), ...rows(3, 0, 16)]);
    // probes: "a photo of the disc" like the erase prompt; "circle" (3 tokens) from position 1, 15 rows, anchor rows 0…14
    expect(Array.from(keys.probes[0]?.keys.data ?? [])).toEqual(rows(4, 5, 16));
    expect(keys.probes[1]?.keys.rows).toBe(15);
    expect(Array.from(keys.probes[1]?.keys.data ?? [])).toEqual(rows(5, 1, 16));
    expect(Array.from(keys.probes[1]?.anchorKeys.data ?? [])).toEqual(rows(1, 0, 15));
  });
});
