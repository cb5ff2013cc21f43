// The world's configs against the recipe (docs/shapes-world.md) and the tokenizer, and the PyTorch-default init.
import { describe, expect, it } from 'vitest';
import { CLIPTokenizer, clipTextWeightShapes, parseClipTextConfig, parseUNetConfig, UNet2DConditionModel, DDIMScheduler } from '@erase/sd';
import { shapesWorldTokenizerDir } from '../assets';
import { SAMPLING_SCHEDULER_CONFIG, TEXT_ENCODER_CONFIG, UNET_CONFIG, WORLD_BOS_TOKEN_ID, WORLD_EOS_TOKEN_ID, WORLD_VOCAB_SIZE } from './configs';
import { initHostWeights } from './init';

const total = (shapes: ReadonlyMap<string, readonly number[]>): number => [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);

describe('world configs', () => {
  it('UNet: the recipe\'s 1,692,268 parameters, 7 transformer blocks, 14 attn2 to_k/to_v of [64, 64]', () => {
    const shapes = UNet2DConditionModel.expectedWeightShapes(parseUNetConfig(UNET_CONFIG));
    expect(total(shapes)).toBe(1_692_268);
    const kv = [...shapes].filter(([k]) => /attn2\.to_[kv]\.weight$/.test(k));
    expect(kv.length).toBe(14);
    for (const [, s] of kv) expect(s).toEqual([64, 64]);
    expect(new Set([...shapes.keys()].filter((k) => k.includes('transformer_blocks')).map((k) => k.split('.attn')[0]!.split('.norm')[0]!.split('.ff')[0])).size).toBe(7);
  });

  it('text encoder: CLIP layout over the tokenizer (V·D + T·D + L·(4D² + 4D + 2DF + F + 5D) + 2D parameters)', () => {
    const tokenizer = CLIPTokenizer.fromPretrained(shapesWorldTokenizerDir());
    expect(tokenizer.vocabSize).toBe(WORLD_VOCAB_SIZE);
    expect(tokenizer.bosTokenId).toBe(WORLD_BOS_TOKEN_ID);
    expect(tokenizer.eosTokenId).toBe(WORLD_EOS_TOKEN_ID);
    expect(tokenizer.padTokenId).toBe(WORLD_EOS_TOKEN_ID);
    const config = parseClipTextConfig(TEXT_ENCODER_CONFIG);
    expect(config.maxPositionEmbeddings).toBe(tokenizer.modelMaxLength);
    const [v, t, d, f, l] = [704, 16, 64, 256, 2];
    expect(total(clipTextWeightShapes(config, false))).toBe(v * d + t * d + l * (4 * d * d + 4 * d + 2 * d * f + f + 5 * d) + 2 * d);
  });

  it('sampling scheduler: DDIM, 20 leading steps with offset 1', () => {
    const scheduler = new DDIMScheduler(SAMPLING_SCHEDULER_CONFIG);
    scheduler.setTimesteps(20);
    expect(scheduler.timesteps[0]).toBe(951);
    expect(scheduler.timesteps[19]).toBe(1);
  });
});

describe('initHostWeights', () => {
  it('draws PyTorch defaults: U(±1/√fan_in) weights, zero biases, unit norms, N(0, 0.02²) embeddings', () => {
    const shapes = new Map<string, number[]>([
      ['conv.weight', [16, 8, 3, 3]],
      ['conv.bias', [16]],
      ['norm.weight', [8]],
      ['emb.weight', [500, 20]],
    ]);
    const w = initHostWeights(shapes, 3, (k) => k.startsWith('emb'));
    const conv = w.get('conv.weight')!.data;
    const bound = 1 / Math.sqrt(8 * 9);
    expect(Math.max(...conv.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...conv.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Array.from(w.get('conv.bias')!.data).every((x) => x === 0)).toBe(true);
    expect(Array.from(w.get('norm.weight')!.data).every((x) => x === 1)).toBe(true);
    const emb = Array.from(w.get('emb.weight')!.data);
    const std = Math.sqrt(emb.reduce((a, x) => a + x * x, 0) / emb.length);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(Array.from(initHostWeights(shapes, 3).get('conv.weight')!.data)).toEqual(Array.from(conv)); // seeded
  });
});
