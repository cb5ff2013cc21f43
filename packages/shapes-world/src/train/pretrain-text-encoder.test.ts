// Tests of the text pre-training stage on a tiny encoder: deterministic caption batches whose targets match the
// captions, a falling loss, no tensor leaks, bad options refused.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError } from '@erase/core';
import { CLIPTokenizer, useBackend } from '@erase/sd';
import { shapesWorldTokenizerDir } from '../assets';
import { initTextEncoder } from '../model/init';
import { BACKGROUNDS, FILL_COLORS, SHAPE_CLASSES } from '../world/vocabulary';
import { drawCaptionBatch, pretrainTextEncoder } from './pretrain-text-encoder';
import { TINY_TEXT_ENCODER_CONFIG } from './test-configs';

beforeAll(async () => {
  await useBackend('wasm', { threads: 1 });
});

const settings = { steps: 40, batchSize: 32, learningRate: 3e-3, wordWeight: 0.1, emptyCaptionProbability: 0.1, seed: 3 };

describe('drawCaptionBatch', () => {
  it('is deterministic per (seed, step) and its targets name what the caption says', () => {
    const a = drawCaptionBatch(1, 7, 200, 0.1);
    expect(drawCaptionBatch(1, 7, 200, 0.1)).toEqual(a);
    expect(drawCaptionBatch(1, 8, 200, 0.1).captions).not.toEqual(a.captions);
    let empty = 0;
    a.captions.forEach((caption, b) => {
      const [cls, word, color, bg] = a.targets.map((t) => t[b] as number) as [number, number, number, number];
      if (caption === '') {
        empty++;
        expect([cls, word, color, bg]).toEqual([SHAPE_CLASSES.length, SHAPE_CLASSES.length * 4, FILL_COLORS.length, BACKGROUNDS.length]);
        return;
      }
      const words = caption.split(' ');
      const shape = SHAPE_CLASSES[cls] as (typeof SHAPE_CLASSES)[number];
      expect(Math.floor(word / 4)).toBe(cls);
      expect(words).toContain([shape.name, ...shape.synonyms][word % 4]);
      if (color < FILL_COLORS.length) expect(words).toContain(FILL_COLORS[color]?.name);
      else expect(FILL_COLORS.some((c) => words.includes(c.name))).toBe(false);
      if (bg < BACKGROUNDS.length) expect(words).toContain(BACKGROUNDS[bg]?.name);
      else expect(words).not.toContain('background');
    });
    expect(empty).toBeGreaterThan(5);
    expect(empty).toBeLessThan(40);
  });
});

describe('pretrainTextEncoder', () => {
  it('lowers the loss, changes only the encoder and leaves no tensor behind', async () => {
    const tokenizer = CLIPTokenizer.fromPretrained(shapesWorldTokenizerDir());
    const encoder = initTextEncoder(TINY_TEXT_ENCODER_CONFIG, { seed: 2 });
    const before = Array.from((encoder.parameters().get('text_model.final_layer_norm.weight') as tf.Tensor).dataSync());
    const start = tf.memory().numTensors;
    const result = await pretrainTextEncoder(encoder, tokenizer, settings);
    expect(tf.memory().numTensors).toBe(start);
    expect(result.lastLoss, JSON.stringify(result)).toBeLessThan(0.8 * result.firstLoss);
    expect(Array.from((encoder.parameters().get('text_model.final_layer_norm.weight') as tf.Tensor).dataSync())).not.toEqual(before);
    encoder.dispose();
  });

  it('refuses bad settings and stops on abort', async () => {
    const tokenizer = CLIPTokenizer.fromPretrained(shapesWorldTokenizerDir());
    const encoder = initTextEncoder(TINY_TEXT_ENCODER_CONFIG, { seed: 2 });
    await expect(pretrainTextEncoder(encoder, tokenizer, { ...settings, steps: 1.5 })).rejects.toThrow(InvalidOptionError);
    await expect(pretrainTextEncoder(encoder, tokenizer, { ...settings, wordWeight: -1 })).rejects.toThrow(InvalidOptionError);
    const start = tf.memory().numTensors;
    await expect(pretrainTextEncoder(encoder, tokenizer, { ...settings, signal: AbortSignal.abort() })).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(tf.memory().numTensors).toBe(start);
    encoder.dispose();
  });
});
