import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError } from '@erase/core';
import type { ProgressEvent } from '@erase/core';
import type { ImageClassifier } from '../classifier/image-classifier';
import { scoreErasedClass } from '../metrics/erasure-accuracy';
import { promptTemplate } from '../prompts/prompt-sets';
import { classifiedImagesFor, classifyGeneratedBatches } from './classify-plan';
import type { GeneratedBatch } from './classify-plan';
import { createGenerationPlan } from './plan';
import type { GenerationPlan } from './plan';
import { objectErasurePrompts, promptRowsFromConcepts } from './prompt-rows';
import { mergeShardResults, shardPlan } from './shard';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// Classes cat/dog/frog; "images" are 1×1 pixels whose red channel encodes the probability of the intended class:
// the fake classifier reads p(intended) = (red + 1)/2 and spreads the rest over the other two classes.
const classNames = ['cat', 'dog', 'frog'];
const plan: GenerationPlan = createGenerationPlan(
  promptRowsFromConcepts(objectErasurePrompts({ classes: classNames, synonyms: { cat: ['kitty'], dog: ['hound'] }, template: promptTemplate('photoOfThe') }), {
    seeds: [1, 2],
  }),
);
// Chosen probabilities of the intended class per (class, concept), the same for both seeds.
const intendedProbability: Record<string, number> = { cat: 0.1, dog: 0.9, frog: 0.7, kitty: 0.3, hound: 0.5 };

const classifier: ImageClassifier = {
  classNames,
  classify(images) {
    // channel 0 = 2p − 1, channel 1 = index of the intended class − 1 (so −1, 0, 1)
    return tf.tidy(() => {
      const flat = tf.reshape(images, [images.shape[0], 3]); // [b, 1, 1, 3] -> [b, 3]
      const p = tf.div(tf.add(tf.slice(flat, [0, 0], [-1, 1]), 1), 2); // [b, 1]
      const index = tf.cast(tf.round(tf.add(tf.slice(flat, [0, 1], [-1, 1]), 1)), 'int32'); // [b, 1]
      const oneHot = tf.reshape(tf.oneHot(tf.reshape(index, [-1]), 3), [-1, 3]); // [b, 3]
      const rest = tf.div(tf.sub(1, p), 2); // [b, 1]
      return tf.add(tf.mul(oneHot, p), tf.mul(tf.sub(1, oneHot), rest)) as tf.Tensor2D; // [b, 3]
    });
  },
};

function* generate(items: GenerationPlan['items'], batchSize: number): Generator<GeneratedBatch> {
  for (let start = 0; start < items.length; start += batchSize) {
    const batchItems = items.slice(start, start + batchSize);
    const pixels = batchItems.map((item) => {
      const concept = item.extra?.['concept'] ?? item.className;
      return [2 * (intendedProbability[concept] as number) - 1, classNames.indexOf(item.className) - 1, 0];
    });
    const images = tf.tidy(() => tf.reshape(tf.tensor2d(pixels), [batchItems.length, 1, 1, 3]) as tf.Tensor4D); // [b, 3] -> [b, 1, 1, 3]
    yield { items: batchItems, images };
    images.dispose();
  }
}

describe('classifyGeneratedBatches → mergeShardResults → scoreErasedClass', () => {
  it('reproduces the hand-computed Acc_e / Acc_s / Acc_g from three shards, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const events: ProgressEvent[] = [];
    const shards = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const shard = shardPlan(plan, i, 3);
        const results = await classifyGeneratedBatches(classifier, generate(shard.items, 2), { onProgress: (e) => events.push(e) });
        return { fingerprint: shard.fingerprint, shardIndex: i, shardCount: 3, results: JSON.parse(JSON.stringify(results)) as typeof results };
      }),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(events.length).toBeGreaterThanOrEqual(3); // at least one per shard
    expect(events.every((e) => e.stage === 'eval.classify')).toBe(true);
    const merged = mergeShardResults(plan, shards);
    expect(merged.length).toBe(plan.items.length);

    const images = classifiedImagesFor(merged, 'cat');
    // cat erased: cat prompt (2 images) p = 0.1; dog 0.9 and frog 0.7 (2 each); kitty → synonym 0.3; hound dropped
    expect(images.length).toBe(8);
    const s = scoreErasedClass(images, { classNames, erasedClass: 'cat' });
    expect(s.accE).toBeCloseTo(10, 4);
    expect(s.accS).toBeCloseTo(80, 4);
    expect(s.accG).toBeCloseTo(30, 4);
  });

  it('rejects a batch whose image count differs from its items, and stops when aborted', async () => {
    const items = plan.items.slice(0, 2);
    const images = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    await expect(classifyGeneratedBatches(classifier, [{ items, images }])).rejects.toThrow(InvalidOptionError);
    const controller = new AbortController();
    controller.abort();
    await expect(classifyGeneratedBatches(classifier, generate(items, 1), { signal: controller.signal })).rejects.toThrow(AbortedError);
    images.dispose();
  });
});
