import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { classifyImages, createZeroShotClassifier } from './image-classifier';
import type { ImageClassifier } from './image-classifier';

// A fake image tower: the mean colour of each image, [B, H, W, 3] → [B, 3].
const meanColour = (images: tf.Tensor4D): tf.Tensor2D => tf.mean(images, [1, 2]) as tf.Tensor2D;

/** Solid-colour images [B, 2, 2, 3] in [-1, 1]. */
function solid(colours: number[][]): tf.Tensor4D {
  return tf.tidy(() => tf.tile(tf.reshape(tf.tensor2d(colours), [colours.length, 1, 1, 3]), [1, 2, 2, 1]) as tf.Tensor4D);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('createZeroShotClassifier', () => {
  it('classifies solid colours by their text embedding, without leaking', async () => {
    const text = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1]]); // "red", "green", "blue"
    const classifier = createZeroShotClassifier({ classNames: ['red', 'green', 'blue'], textEmbeddings: text, encodeImages: meanColour });
    const images = solid([[1, -1, -1], [-1, -1, 1], [-1, 1, -1]]);
    const before = tf.memory().numTensors;
    const p = await classifier.classify(images);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(p.shape).toEqual([3, 3]);
    const rows = (await p.array()) as number[][];
    expect(rows.map((r) => r.indexOf(Math.max(...r)))).toEqual([0, 2, 1]);
    // cos(mean colour, one-hot) = ±1/√3, so the winner's logit leads by 100·2/√3 ≈ 115: probability ≈ 1
    for (const r of rows) expect(Math.max(...r)).toBeGreaterThan(0.999999);
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([text, images]);
  });

  it('rejects text embeddings that do not match the class list', () => {
    const text = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => createZeroShotClassifier({ classNames: ['a', 'b', 'c'], textEmbeddings: text, encodeImages: meanColour })).toThrow(ShapeMismatchError);
    expect(() => createZeroShotClassifier({ classNames: ['a', 'a'], textEmbeddings: text, encodeImages: meanColour })).toThrow(InvalidOptionError);
    text.dispose();
  });
});

describe('classifyImages', () => {
  function counting(k = 2): { classifier: ImageClassifier; batches: number[] } {
    const batches: number[] = [];
    const classifier: ImageClassifier = {
      classNames: Array.from({ length: k }, (_, i) => `c${i}`),
      classify(images) {
        batches.push(images.shape[0]);
        // probability of c0 = (mean red + 1)/2, the rest spread evenly
        return tf.tidy(() => {
          const red = tf.div(tf.add(tf.mean(tf.slice(images, [0, 0, 0, 0], [-1, -1, -1, 1]), [1, 2, 3]), 1), 2); // [b]
          const rest = tf.div(tf.sub(1, red), k - 1); // [b]
          return tf.stack([red, ...Array.from({ length: k - 1 }, () => rest)], 1) as tf.Tensor2D; // [b, K]
        });
      },
    };
    return { classifier, batches };
  }

  it('batches, returns host rows in order and leaks nothing', async () => {
    const { classifier, batches } = counting();
    const images = solid([[1, 0, 0], [0, 0, 0], [-1, 0, 0]]);
    const before = tf.memory().numTensors;
    const rows = await classifyImages(classifier, images, { batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(batches).toEqual([2, 1]);
    expect(rows.map((r) => Array.from(r))).toEqual([[1, 0], [0.5, 0.5], [0, 1]]);
    expect(images.isDisposed).toBe(false);
    images.dispose();
  });

  it('rejects pixels outside [-1, 1], bad shapes and a wrong output shape, leaking nothing', async () => {
    const { classifier } = counting(3);
    const bytes = tf.fill([1, 2, 2, 3], 255) as tf.Tensor4D;
    const gray = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const ok = solid([[0, 0, 0]]);
    const before = tf.memory().numTensors;
    await expect(classifyImages(classifier, bytes)).rejects.toThrow(InvalidOptionError);
    await expect(classifyImages(classifier, gray)).rejects.toThrow(ShapeMismatchError);
    await expect(classifyImages(classifier, ok, { batchSize: 0 })).rejects.toThrow(InvalidOptionError);
    // a NaN tolerance made every range comparison false, so [0, 255] images passed
    await expect(classifyImages(classifier, bytes, { rangeTolerance: Number.NaN })).rejects.toThrow(/rangeTolerance/);
    await expect(classifyImages(classifier, ok, { rangeTolerance: -1 })).rejects.toThrow(/rangeTolerance/);
    const liar: ImageClassifier = { classNames: ['a', 'b'], classify: (x) => tf.zeros([x.shape[0], 3]) as tf.Tensor2D };
    await expect(classifyImages(liar, ok)).rejects.toThrow(ShapeMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([bytes, gray, ok]);
  });
});
