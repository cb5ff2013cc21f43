// Tests of trainShapesWorld on wasm with tiny configs: the loss falls on a fixed batch, no tensor leaks per step,
// checkpoint → resume continues exactly, abort writes a checkpoint, resumes refuse conflicting settings, and the
// text encoder is frozen after its pre-training stage (or trains jointly without one); data-parallel workers give the
// one-thread result up to float rounding, deterministically, and resume exactly.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError } from '@erase/core';
import { useBackend } from '@erase/sd';
import { loadCheckpoint } from './checkpoint';
import { TINY_TEXT_ENCODER_CONFIG, TINY_UNET_CONFIG } from './test-configs';
import { trainShapesWorld, type TrainShapesWorldOptions } from './train-shapes-world';

const tiny: TrainShapesWorldOptions = {
  batchSize: 4,
  warmupSteps: 0,
  learningRate: 3e-3,
  seed: 5,
  textPretrainSteps: 3,
  workers: 1,
  textEncoderConfig: TINY_TEXT_ENCODER_CONFIG,
  unetConfig: TINY_UNET_CONFIG,
};

let root: string;
beforeAll(async () => {
  await useBackend('wasm', { threads: 1 });
  root = mkdtempSync(join(tmpdir(), 'shapes-world-train-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('trainShapesWorld', () => {
  it('lowers the loss on a repeated batch, keeps numTensors constant per step and leaves only the models', async () => {
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const result = await trainShapesWorld({ ...tiny, steps: 6, repeatFirstBatch: true, curveEvery: 3, onProgress: (e) => { if (e.stage === 'train.shapes-world') counts.push(tf.memory().numTensors); } });
    const { losses } = result;
    expect(losses.length).toBe(6);
    expect(losses.every(Number.isFinite)).toBe(true);
    // ε-MSE of an untrained net is ≈ E[ε²] = 1 or more; the same batch 5 updates later must fit better
    expect(losses[0]).toBeGreaterThan(0.5);
    expect(losses[5], `losses ${Array.from(losses, (l) => l.toFixed(3)).join(' ')}`).toBeLessThan(0.9 * (losses[0] as number));
    expect(new Set(counts).size, `numTensors per step: ${counts.join(', ')}`).toBe(1);
    expect(result.lossCurve.map((p) => p.step)).toEqual([3, 6]);
    const owned = result.textEncoder.parameters().size + result.unet.parameters().size;
    expect(tf.memory().numTensors).toBe(start + owned);
    result.textEncoder.dispose();
    result.unet.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('resumed from a checkpoint, the next step has exactly the loss of the uninterrupted run', async () => {
    const full = await trainShapesWorld({ ...tiny, steps: 3 });
    const dir = join(root, 'resume');
    const first = await trainShapesWorld({ ...tiny, steps: 2, checkpointDir: dir, checkpointEvery: 0 });
    expect(Array.from(first.losses)).toEqual(Array.from(full.losses.subarray(0, 2)));
    expect(loadCheckpoint(dir).state.step).toBe(2);
    const resumed = await trainShapesWorld({ steps: 3, resumeFrom: dir });
    expect(resumed.startStep).toBe(2);
    expect(resumed.losses.length).toBe(1);
    expect(resumed.losses[0]).toBe(full.losses[2]);
    // and the shipped (EMA) weights agree too
    const a = full.unet.parameters().get('conv_out.weight') as tf.Tensor;
    const b = resumed.unet.parameters().get('conv_out.weight') as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    for (const r of [full, first, resumed]) {
      r.textEncoder.dispose();
      r.unet.dispose();
    }
  });

  it('on abort writes a checkpoint of the last finished step and throws AbortedError', async () => {
    const dir = join(root, 'abort');
    const controller = new AbortController();
    const start = tf.memory().numTensors;
    const run = trainShapesWorld({ ...tiny, steps: 50, checkpointDir: dir, checkpointEvery: 0, signal: controller.signal, onProgress: (e) => { if (e.stage === 'train.shapes-world' && e.step === 2) controller.abort(); } });
    await expect(run).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(loadCheckpoint(dir).state.step).toBe(2);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('sees an abort that arrives from a timer (as a Ctrl-C handler does) between steps', async () => {
    const dir = join(root, 'abort-timer');
    const controller = new AbortController();
    let steps = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = trainShapesWorld({
      ...tiny,
      steps: 2000,
      checkpointDir: dir,
      checkpointEvery: 0,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.stage !== 'train.shapes-world') return;
        steps = e.step;
        timer ??= setTimeout(() => controller.abort(), 200); // armed at the first UNet step
      },
    });
    await expect(run).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    clearTimeout(timer);
    // without a yield per step the timer could only fire after all 2,000 steps
    expect(steps).toBeLessThan(2000);
    expect(loadCheckpoint(dir).state.step).toBe(steps);
  });

  it('stops early on its time budget, checkpointing the last step', async () => {
    const dir = join(root, 'budget');
    const result = await trainShapesWorld({ ...tiny, steps: 50, maxSeconds: 1e-3, checkpointDir: dir });
    expect(result.stepsDone).toBe(1);
    expect(result.losses.length).toBe(1);
    expect(loadCheckpoint(dir).state.step).toBe(1);
    result.textEncoder.dispose();
    result.unet.dispose();
  });

  it('with text pre-training the encoder stays frozen during the UNet stage; with 0 steps it trains jointly', async () => {
    const encoderWeight = (r: { textEncoder: { parameters(): ReadonlyMap<string, tf.Variable> } }): number[] =>
      Array.from((r.textEncoder.parameters().get('text_model.encoder.layers.0.self_attn.q_proj.weight') as tf.Tensor).dataSync());
    const frozen1 = await trainShapesWorld({ ...tiny, steps: 1 });
    const frozen3 = await trainShapesWorld({ ...tiny, steps: 3 });
    expect(frozen1.textPretrain?.lastLoss).toBeLessThan(frozen1.textPretrain?.firstLoss as number);
    expect(encoderWeight(frozen3)).toEqual(encoderWeight(frozen1));
    const joint1 = await trainShapesWorld({ ...tiny, steps: 1, textPretrainSteps: 0 });
    const joint3 = await trainShapesWorld({ ...tiny, steps: 3, textPretrainSteps: 0 });
    expect(joint1.textPretrain).toBeUndefined();
    expect(encoderWeight(joint3)).not.toEqual(encoderWeight(joint1));
    for (const r of [frozen1, frozen3, joint1, joint3]) {
      r.textEncoder.dispose();
      r.unet.dispose();
    }
  });

  it('refuses a resume with a different setting, and bad options', async () => {
    const dir = join(root, 'resume');
    expect(existsSync(join(dir, 'checkpoint.json'))).toBe(true);
    await expect(trainShapesWorld({ steps: 4, resumeFrom: dir, batchSize: 8 })).rejects.toThrow(InvalidOptionError);
    await expect(trainShapesWorld({ ...tiny, steps: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(trainShapesWorld({ ...tiny, steps: 2, emptyCaptionProbability: 2 })).rejects.toThrow(InvalidOptionError);
    await expect(trainShapesWorld({ ...tiny, steps: 2, textPretrainSteps: -1 })).rejects.toThrow(InvalidOptionError);
    await expect(trainShapesWorld({ ...tiny, steps: 2, weightDecay: Number.POSITIVE_INFINITY })).rejects.toThrow(/weightDecay/);
    await expect(trainShapesWorld({ ...tiny, steps: 2, textPretrainWordWeight: Number.POSITIVE_INFINITY })).rejects.toThrow(/textPretrainWordWeight/);
    await expect(trainShapesWorld({ ...tiny, steps: 2, textPretrainWordWeight: Number.NaN })).rejects.toThrow(InvalidOptionError);
    await expect(trainShapesWorld({ ...tiny, steps: 2, unetConfig: { ...TINY_UNET_CONFIG, cross_attention_dim: 8 } })).rejects.toThrow(InvalidOptionError);
    await expect(trainShapesWorld({ ...tiny, steps: 2, workers: 0 })).rejects.toThrow(/workers/);
    await expect(trainShapesWorld({ ...tiny, steps: 2, workers: 5 })).rejects.toThrow(/workers/); // > batch size 4
  });
});

describe('trainShapesWorld with data-parallel workers', () => {
  const weight = (r: { unet: { parameters(): ReadonlyMap<string, tf.Variable> } }): Float32Array =>
    (r.unet.parameters().get('conv_out.weight') as tf.Tensor).dataSync() as Float32Array;
  const dispose = (...runs: { textEncoder: { dispose(): void }; unet: { dispose(): void } }[]): void => {
    for (const r of runs) {
      r.textEncoder.dispose();
      r.unet.dispose();
    }
  };

  it('matches the one-thread run up to float rounding, is deterministic, and keeps numTensors constant per step', async () => {
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const one = await trainShapesWorld({ ...tiny, batchSize: 5, steps: 3 });
    const two = await trainShapesWorld({ ...tiny, batchSize: 5, steps: 3, workers: 2, onProgress: (e) => { if (e.stage === 'train.shapes-world') counts.push(tf.memory().numTensors); } });
    const again = await trainShapesWorld({ ...tiny, batchSize: 5, steps: 3, workers: 2 });
    expect(two.settings.workers).toBe(2);
    // shards of 3 and 2 images weighted 3/5 and 2/5: the same mean loss as one batch of 5
    for (let k = 0; k < 3; k++) expect(two.losses[k]).toBeCloseTo(one.losses[k] as number, 5);
    const [a, b] = [weight(one), weight(two)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    expect(worst).toBeLessThan(1e-4);
    expect(Array.from(again.losses)).toEqual(Array.from(two.losses));
    expect(Array.from(weight(again))).toEqual(Array.from(b));
    expect(new Set(counts).size, `numTensors per step: ${counts.join(', ')}`).toBe(1);
    dispose(one, two, again);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('resumed from a checkpoint, continues exactly as the uninterrupted data-parallel run', async () => {
    const dir = join(root, 'resume-workers');
    const full = await trainShapesWorld({ ...tiny, steps: 3, workers: 2 });
    const first = await trainShapesWorld({ ...tiny, steps: 2, workers: 2, checkpointDir: dir, checkpointEvery: 0 });
    const resumed = await trainShapesWorld({ steps: 3, resumeFrom: dir });
    expect(resumed.settings.workers).toBe(2);
    expect(resumed.losses[0]).toBe(full.losses[2]);
    expect(Array.from(weight(resumed))).toEqual(Array.from(weight(full)));
    dispose(full, first, resumed);
  });

  it('trains the encoder too in the joint recipe', async () => {
    const one = await trainShapesWorld({ ...tiny, steps: 2, textPretrainSteps: 0 });
    const two = await trainShapesWorld({ ...tiny, steps: 2, textPretrainSteps: 0, workers: 2 });
    const q = (r: typeof one): Float32Array => (r.textEncoder.parameters().get('text_model.encoder.layers.0.self_attn.q_proj.weight') as tf.Tensor).dataSync() as Float32Array;
    const [a, b] = [q(one), q(two)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    expect(worst).toBeLessThan(1e-4);
    expect(two.losses[1]).toBeCloseTo(one.losses[1] as number, 5);
    dispose(one, two);
  });
});
