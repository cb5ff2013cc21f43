// The measurement end to end on a fake world whose outcome is known by construction (test-fakes.ts): every prompt
// that names a class draws that class's template shape; "a photo of the", "" and erased prompts draw the prior class
// (heart); untied synonyms read their own embedding dimensions (residue), tied ones share their class's (none).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textToImage } from '@erase/sd';
import { CLASS_NAMES } from '../world/vocabulary';
import { evaluateWorld, type WorldEvaluation } from './evaluate-world';
import { gridPng, upscaleNearest } from './grid';
import { photoPrompt } from './prompts';
import { evaluationToJson, evaluationToMarkdown, residueVerdict, type RunEnvironment } from './report';
import { measureResidue, type ClassifiedImageRecord, type ErasedClassScorer } from './residue';
import { sampleAndClassify } from './sample-and-classify';
import { snapshotProjections } from './word-erasure';
import { fakeWorld, type FakeWorld } from './test-fakes';

const PRIOR = CLASS_NAMES.indexOf('heart');
const SEEDS = [3, 4];
const SAMPLING = { steps: 2, guidanceScale: 1, batchSize: 16 };

/** MACE's mean probability / top-1 of the intended class, written out independently of @erase/eval. */
const calls: ClassifiedImageRecord[][] = [];
const score: ErasedClassScorer = (images, { classNames, variant }) => {
  calls.push([...images]);
  const value = (image: ClassifiedImageRecord): number => {
    const row = Array.from(image.probabilities);
    const k = classNames.indexOf(image.intendedClass);
    return variant === 'meanProbability' ? 100 * (row[k] as number) : row.indexOf(Math.max(...row)) === k ? 100 : 0;
  };
  const avg = (role: ClassifiedImageRecord['role']): number => {
    const values = images.filter((i) => i.role === role).map(value);
    return values.reduce((a, b) => a + b, 0) / values.length;
  };
  const [accE, accS, accG] = [avg('erased'), avg('other'), avg('synonym')];
  const parts = [100 - accE, accS, 100 - accG];
  const ho = parts.some((p) => p === 0) ? 0 : 3 / parts.reduce((a, p) => a + 1 / p, 0);
  return { accE, accS, accG, ho };
};

const environment: RunEnvironment = {
  command: 'test',
  date: '2026-11-23',
  weightsDir: '(fake)',
  backend: 'cpu',
  threads: 1,
  machine: 'test',
  gridFile: 'grid.png',
};

async function run(world: FakeWorld, erase: string[]): Promise<WorldEvaluation> {
  return evaluateWorld(world.model, world.classifier, { seeds: SEEDS, score, erase, ...SAMPLING });
}

describe('evaluateWorld on a fake world with residue (untied synonyms)', () => {
  let world: FakeWorld;
  let result: WorldEvaluation;
  let tensorsBefore: number;
  let tensorsAfter: number;
  let weightsBefore: Map<string, number[]>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    world = fakeWorld({ tiedSynonyms: false });
    weightsBefore = new Map([...(await snapshotProjections(world.sites))].map(([k, v]) => [k, Array.from(v.weight.data)]));
    calls.length = 0;
    tensorsBefore = tf.memory().numTensors;
    result = await run(world, ['circle', 'heart']);
    tensorsAfter = tf.memory().numTensors;
  });
  afterAll(() => world.dispose());

  it('leaves no tensor behind and gives the weights back unchanged', async () => {
    expect(tensorsAfter).toBe(tensorsBefore);
    const after = await snapshotProjections(world.sites);
    for (const [key, weight] of after) expect(Array.from(weight.weight.data)).toEqual(weightsBefore.get(key));
    expect(result.residue.perClass.every((c) => c.restored)).toBe(true);
  });

  it('scores every class and synonym prompt as its class, and the prefix and "" as the prior', () => {
    const q = result.quality;
    expect(q.classPrompts.map((p) => p.top1)).toEqual(new Array(10).fill(100));
    expect(q.synonymPrompts.map((p) => p.top1)).toEqual(new Array(30).fill(100));
    for (const p of [...q.classPrompts, ...q.synonymPrompts]) expect(p.meanProbability).toBeGreaterThan(99);
    expect([q.classTop1, q.synonymTop1]).toEqual([100, 100]);
    expect(q.passes).toEqual({ classes: true, synonyms: true });
    expect(q.prefix.top1ByClass[PRIOR]).toBe(100);
    expect(q.empty.top1ByClass[PRIOR]).toBe(100);
    expect(q.classPrompts[0]?.imageCount).toBe(SEEDS.length);
  });

  it('keeps the grid: 10 class rows and 4 synonym rows, one column per seed (at most 8)', () => {
    const g = result.quality.grid;
    expect(g.rows).toHaveLength(14);
    expect(g.rows[0]).toBe(photoPrompt('circle'));
    expect(g.seeds).toEqual(SEEDS);
    expect(g.images.length).toBe(14 * 2 * 24 * 24 * 3);
    // row 9 (moon), column 1 is a moon image: nearest to the moon template
    const cell = g.images.subarray((9 * 2 + 1) * 1728, (9 * 2 + 2) * 1728);
    const distances = world.templates.map((t) => t.reduce((sum, v, i) => sum + (v - (cell[i] as number)) ** 2, 0));
    expect(distances.indexOf(Math.min(...distances))).toBe(9);
  });

  it('hands the scorer each role with its intended class', () => {
    const circle = calls[0] as ClassifiedImageRecord[];
    expect(circle.filter((r) => r.role === 'erased').map((r) => r.intendedClass)).toEqual(['circle', 'circle']);
    expect(circle.filter((r) => r.role === 'synonym')).toHaveLength(6);
    expect(circle.filter((r) => r.role === 'synonym').every((r) => r.intendedClass === 'circle')).toBe(true);
    expect(new Set(circle.filter((r) => r.role === 'other').map((r) => r.intendedClass))).toEqual(new Set(CLASS_NAMES.slice(1)));
    expect(calls).toHaveLength(4); // 2 classes × (mean probability, top-1)
  });

  it('erases the class word but not its synonyms: Acc_e ≈ 0, Acc_s ≈ 100, Acc_g ≈ 100', () => {
    const circle = result.residue.perClass[0];
    expect(circle?.erasedClass).toBe('circle');
    expect(circle?.top1).toEqual({ accE: 0, accS: 100, accG: 100, ho: 0 });
    expect(circle?.meanProbability.accE).toBeLessThan(1);
    expect(circle?.meanProbability.accS).toBeGreaterThan(99);
    expect(circle?.meanProbability.accG).toBeGreaterThan(99);
    // the erased prompt now draws the prior
    expect(circle?.prompts.erased.top1ByClass[PRIOR]).toBe(100);
  });

  it('keeps the prior class at Acc_e 100 (the prefix draws it anyway)', () => {
    const heart = result.residue.perClass[1];
    expect(heart?.top1.accE).toBe(100);
    expect(heart?.top1.accS).toBe(100);
  });

  it('predicts the residue before sampling: ρ of the class prompt small, of its synonyms large', () => {
    const predictor = result.residue.perClass[0]?.predictor ?? [];
    expect(predictor.map((p) => p.word)).toEqual(['circle', 'disc', 'orb', 'dot']);
    expect(predictor[0]?.ratio).toBeLessThan(0.2);
    for (const p of predictor.slice(1)) expect(p.ratio).toBeGreaterThan(0.5);
  });

  it('reports speed and settings', () => {
    expect(result.speed.images).toBe(42 * 2 + 2 * 13 * 2);
    expect(result.speed.unetEvaluationsPerImage).toBe(2);
    expect(result.residue.settings).toMatchObject({ anchorPrompt: ' ', sliceStart: 5, sliceLength: 11, projectionCount: 4 });
    expect(result.residue.settings.weights).toEqual({ lambda: 0.1, eraseScale: 1, preserveScale: 1 / 9 });
  });

  it('writes a report that calls the residue present, and JSON without pixels', () => {
    const markdown = evaluationToMarkdown(result, environment);
    expect(markdown).toContain('**Residue is present**');
    expect(markdown).toContain('| circle | 100.0 |');
    const json = JSON.parse(evaluationToJson(result, environment)) as { quality: { grid: Record<string, unknown> } };
    expect(json.quality.grid.images).toBeUndefined();
    expect(json.quality.grid.rows).toHaveLength(14);
    expect(markdown).toContain('**A smoke run: 2 seed(s) per prompt.**');
  });

  it('gives no residue verdict for a world that fails the quality acceptance', () => {
    const failing = { ...result, quality: { ...result.quality, classTop1: 12, passes: { classes: false, synonyms: false } } };
    expect(residueVerdict(failing)).toContain('**No verdict on residue**');
  });
});

describe('evaluateWorld on a fake world without residue (tied synonyms)', () => {
  let world: FakeWorld;
  let result: WorldEvaluation;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    world = fakeWorld({ tiedSynonyms: true });
    result = await run(world, ['circle', 'moon']);
  });
  afterAll(() => world.dispose());

  it('erases the synonyms with the word: Acc_g ≈ Acc_e ≈ 0, and says so', () => {
    for (const c of result.residue.perClass) {
      expect(c.top1).toEqual({ accE: 0, accS: 100, accG: 0, ho: 100 });
      // identical keys, identical ρ (the class word and its three synonyms)
      expect(c.predictor).toHaveLength(4);
      for (const p of c.predictor) expect(p.ratio).toBe(c.predictor[0]?.ratio);
    }
    expect(evaluationToMarkdown(result, environment)).toContain('**Residue is absent in this world**');
  });

  it('measures the text geometry: synonyms identical to their class, classes at cos −1/9', () => {
    const g = result.geometry;
    expect(g.wordPosition).toBe(5);
    expect(g.ownSynonyms.word).toBeCloseTo(1, 6);
    expect(g.ownSynonyms.end).toBeCloseTo(1, 6);
    // centred e_k − (1/10)·1 against e_j − (1/10)·1: (−0.1 − 0.1 + 0.1) / (1 − 0.2 + 0.1) = −1/9
    expect(g.otherClasses.word).toBeCloseTo(-1 / 9, 6);
    expect(g.otherClasses.eos).toBeCloseTo(-1 / 9, 6);
    expect(g.otherClasses.end).toBeCloseTo(-1 / 9, 6);
  });
});

describe('measureResidue with fewer seeds for Acc_s', () => {
  it('uses otherSeeds for the other classes only', async () => {
    await tf.setBackend('cpu');
    const world = fakeWorld({ tiedSynonyms: false });
    try {
      calls.length = 0;
      const result = await measureResidue(world.model, world.classifier, { seeds: SEEDS, otherSeeds: [SEEDS[0] as number], score, erase: ['star'], ...SAMPLING });
      const star = result.perClass[0];
      expect(star?.imageCount).toBe(4 * 2 + 9 * 1);
      expect(star?.prompts.erased.imageCount).toBe(2);
      expect(star?.prompts.others.map((p) => p.imageCount)).toEqual(new Array(9).fill(1));
      expect(star?.prompts.synonyms.map((p) => p.imageCount)).toEqual([2, 2, 2]);
      expect(calls[0]?.filter((r) => r.role === 'other')).toHaveLength(9);
      expect(star?.top1).toEqual({ accE: 0, accS: 100, accG: 100, ho: 0 });
      expect(result.otherSeeds).toEqual([SEEDS[0]]);
    } finally {
      world.dispose();
    }
  });
});

describe('text geometry with untied synonyms', () => {
  it('puts 40 orthogonal words at cos −1/39 from each other', async () => {
    await tf.setBackend('cpu');
    const world = fakeWorld({ tiedSynonyms: false });
    try {
      const { measureTextGeometry } = await import('./text-geometry');
      const g = await measureTextGeometry(world.model.textEncoder);
      // centred e_u − m, m = (1/40)·1 over 40 dims: (−2/40 + 1/40) / (1 − 2/40 + 1/40) = −1/39
      expect(g.ownSynonyms.word).toBeCloseTo(-1 / 39, 6);
      expect(g.ownSynonyms.end).toBeCloseTo(-1 / 39, 6);
      expect(g.perClass[3]?.otherClasses.max.word).toBeCloseTo(-1 / 39, 6);
    } finally {
      world.dispose();
    }
  });
});

describe('sampleAndClassify', () => {
  let world: FakeWorld;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    world = fakeWorld({ tiedSynonyms: false });
  });
  afterAll(() => world.dispose());

  it('gives each (prompt, seed) the image textToImage gives it alone, whatever the batching', async () => {
    const requests = [
      { prompt: photoPrompt('star'), seed: 11 },
      { prompt: photoPrompt('ring'), seed: 12 },
      { prompt: photoPrompt('star'), seed: 12 },
      { prompt: photoPrompt('star'), seed: 11 },
      { prompt: '', seed: 13 },
    ];
    const before = tf.memory().numTensors;
    const one = await sampleAndClassify(world.model, world.classifier, requests, { ...SAMPLING, batchSize: 1, keepImages: () => true });
    const three = await sampleAndClassify(world.model, world.classifier, requests, { ...SAMPLING, batchSize: 3, keepImages: (i) => i !== 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(three.images.has(1)).toBe(false);
    for (const i of [0, 2, 3, 4]) expect(Array.from(three.images.get(i) ?? [])).toEqual(Array.from(one.images.get(i) ?? [0]));
    expect(Array.from(one.images.get(0) ?? [])).toEqual(Array.from(one.images.get(3) ?? [0])); // same prompt and seed
    expect(Array.from(one.images.get(0) ?? [])).not.toEqual(Array.from(one.images.get(2) ?? [])); // another seed
    const alone = await textToImage(world.model, { prompt: photoPrompt('star'), seed: 12, numInferenceSteps: 2, guidanceScale: 1 });
    const expected = tf.tidy(() => tf.sub(tf.mul(alone.images as tf.Tensor4D, 2), 1));
    expect(Array.from(one.images.get(2) ?? [])).toEqual(Array.from(expected.dataSync()));
    tf.dispose([alone.images as tf.Tensor, alone.latents, expected]);
    expect(one.probabilities.map((p) => p.indexOf(Math.max(...p)))).toEqual([3, 6, 3, 3, PRIOR]);
  });

  it('rejects a bad batch size or seed', async () => {
    await expect(sampleAndClassify(world.model, world.classifier, [{ prompt: 'x', seed: 1 }], { batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(sampleAndClassify(world.model, world.classifier, [{ prompt: 'x', seed: -1 }])).rejects.toThrow(/seed/);
    await expect(sampleAndClassify(world.model, world.classifier, [])).rejects.toThrow(/requests/);
  });
});

describe('grid', () => {
  it('upscales by nearest neighbour', () => {
    const image = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // [1, 2, 2, 3]
    const big = upscaleNearest(image, [1, 2, 2, 3], 2); // [1, 4, 4, 3]
    const pixel = (y: number, x: number): number[] => Array.from(big.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    expect(pixel(0, 0)).toEqual([0, 1, 2]);
    expect(pixel(1, 1)).toEqual([0, 1, 2]);
    expect(pixel(0, 2)).toEqual([3, 4, 5]);
    expect(pixel(3, 0)).toEqual([6, 7, 8]);
    expect(pixel(2, 3)).toEqual([9, 10, 11]);
    expect(() => upscaleNearest(image, [1, 2, 2, 3], 0)).toThrow(/factor/);
  });

  it('encodes a PNG of columns × rows upscaled cells', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const png = await gridPng(new Float32Array(3 * 24 * 24 * 3), [24, 24, 3], 2, { factor: 4, padding: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    expect(png.readUInt32BE(16)).toBe(2 * 96 + 2); // width: 2 columns
    expect(png.readUInt32BE(20)).toBe(2 * 96 + 2); // height: 2 rows (the last half empty)
  });
});
