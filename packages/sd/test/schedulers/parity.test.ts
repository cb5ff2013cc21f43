/**
 * Scheduler parity with diffusers 0.25.1 (fixtures: ../shared/fixtures/parity/schedulers, see its README):
 * betas, ᾱ, timesteps, Euler σ (exact or rtol 1e-5), the 10-step rollout replayed from `init_latent` with the fake
 * model output 0.1·x_in + 0.05 (every step's model input, prev_sample and pred_original_sample, rtol 1e-5), and
 * add_noise. The tensors keep the fixture's [1, 4, 8, 8] layout: every scheduler op is elementwise.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scheduler } from '@erase/core';
import { readSafetensors } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/io/safetensors';
import { DDPMScheduler, EulerDiscreteScheduler, schedulerFromConfig } from '../../src/schedulers/index';
import { compareArrays } from '../parity';
import { optionalFixture } from '../fixture-gate';

const dir = optionalFixture('parity', 'schedulers');
const NAMES = ['ddim', 'ddpm', 'pndm', 'euler', 'euler_leading'] as const;
const RTOL = 1e-5;

interface Case {
  readonly json: Record<string, unknown> & { class: string; config_passed: Record<string, unknown>; step_kwargs: Record<string, unknown> };
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

function load(name: string): Case {
  const json = JSON.parse(readFileSync(join(dir as string, `${name}.json`), 'utf8')) as Case['json'];
  return { json, tensors: readSafetensors(join(dir as string, `${name}.safetensors`)).tensors };
}

function host(c: Case, key: string): HostTensor {
  const t = c.tensors.get(key);
  if (!t) throw new Error(`fixture tensor ${key} missing`);
  return t;
}

/** Slice i of a stacked [S, …] fixture tensor. */
function slice(t: HostTensor, i: number): { data: Float32Array; shape: number[] } {
  const shape = t.shape.slice(1);
  const size = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from(t.data.subarray(i * size, (i + 1) * size)), shape };
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i] as number));
  return m;
}

/** Builds the scheduler as the fixture did: `Cls.from_config(SD1 config)` (with `_class_name` for the dispatcher). */
function build(c: Case): Scheduler {
  return schedulerFromConfig({ _class_name: c.json.class, ...c.json.config_passed });
}

/** max abs diffs per case and quantity, printed at the end (the report of this suite). */
const summary: string[] = [];

function expectClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, shape: readonly number[]): number {
  const atol = RTOL * Math.max(1, maxAbs(expected));
  const cmp = compareArrays(label, actual, expected, shape, atol);
  expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(atol);
  return cmp.maxAbsDiff;
}

describe.skipIf(dir === undefined)('scheduler schedules match diffusers 0.25.1 exactly', () => {
  it.each(NAMES)('%s: betas, ᾱ, timesteps, σ and init_noise_sigma', (name) => {
    const c = load(name);
    const s = build(c);
    const betas = (s as unknown as { betas: Float32Array }).betas;
    expect(compareArrays(`${name} betas`, betas, host(c, 'betas').data, [1000], 0).maxAbsDiff).toBe(0);
    expect(compareArrays(`${name} ᾱ`, s.alphasCumprod, host(c, 'alphas_cumprod').data, [1000], 0).maxAbsDiff).toBe(0);
    for (const n of [50, 20, 10]) {
      s.setTimesteps(n);
      expect(s.timesteps, `${name} timesteps_${n}`).toEqual(Array.from(host(c, `timesteps_${n}`).data));
      expect(s.timesteps, `${name} timesteps_${n} (json)`).toEqual(c.json[`timesteps_${n}`]);
      expect(s.initNoiseSigma, `${name} init_noise_sigma_${n}`).toBe(c.json[`init_noise_sigma_${n}`]);
      if (s instanceof EulerDiscreteScheduler) {
        const expected = host(c, `sigmas_${n}`).data;
        const d = expectClose(`${name} sigmas_${n}`, s.sigmas, expected, [n + 1]);
        summary.push(`${name} sigmas_${n}: max abs diff ${d.toExponential(2)}`);
      }
    }
  });
});

describe.skipIf(dir === undefined).each(['cpu', 'wasm'])('scheduler rollouts match diffusers 0.25.1 on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });
  afterAll(() => {
    if (summary.length > 0) console.log(`scheduler parity (${backend}):\n  ${summary.join('\n  ')}`);
    summary.length = 0;
  });

  it.each(NAMES)('%s: 10-step rollout (model input, prev_sample, pred_original_sample), no leaks', (name) => {
    const c = load(name);
    const s = build(c);
    s.setTimesteps(10);
    const init = host(c, 'init_latent');
    const start = host(c, 'rollout_start');
    const inputs = host(c, 'rollout_model_input');
    const outputs = host(c, 'rollout_model_output');
    const prevs = host(c, 'rollout_prev_sample');
    const preds = c.tensors.get('rollout_pred_original_sample');
    const noises = c.tensors.get('rollout_variance_noise');
    const steps = c.json.rollout_steps as number;
    expect(s.timesteps).toEqual(Array.from(host(c, 'rollout_timesteps').data));
    expect(s.timesteps.length).toBe(steps);
    const before = tf.memory().numTensors;
    const initLatent = tf.tensor(init.data, [...init.shape]); // [1, 4, 8, 8]
    let x = tf.mul(initLatent, s.initNoiseSigma); // [1, 4, 8, 8]
    initLatent.dispose();
    expectClose(`${name} rollout_start`, x.dataSync(), start.data, start.shape);
    let worst = { input: 0, output: 0, prev: 0, pred: 0 };
    for (let i = 0; i < steps; i++) {
      const t = s.timesteps[i] as number;
      const modelInput = s.scaleModelInput(x, t); // [1, 4, 8, 8]
      const modelOutput = tf.tidy(() => tf.add(tf.mul(modelInput, 0.1), 0.05)); // fake ε = 0.1·x_in + 0.05
      const expectedInput = slice(inputs, i);
      const expectedOutput = slice(outputs, i);
      const noise = noises ? slice(noises, i) : undefined;
      const varianceNoise = noise ? tf.tensor(noise.data, noise.shape) : undefined; // [1, 4, 8, 8]
      const out = s.step(modelOutput, t, x, { ...(c.json.step_kwargs as { eta?: number }), varianceNoise });
      const at = `${name} step ${i} (t=${t})`;
      worst.input = Math.max(worst.input, expectClose(`${at} model_input`, modelInput.dataSync(), expectedInput.data, expectedInput.shape));
      worst.output = Math.max(worst.output, expectClose(`${at} model_output`, modelOutput.dataSync(), expectedOutput.data, expectedOutput.shape));
      const expectedPrev = slice(prevs, i);
      worst.prev = Math.max(worst.prev, expectClose(`${at} prev_sample`, out.prevSample.dataSync(), expectedPrev.data, expectedPrev.shape));
      if (preds) {
        const expectedPred = slice(preds, i);
        expect(out.predOriginalSample, `${at} pred_original_sample`).toBeDefined();
        worst.pred = Math.max(worst.pred, expectClose(`${at} pred_original_sample`, out.predOriginalSample!.dataSync(), expectedPred.data, expectedPred.shape));
      } else {
        expect(out.predOriginalSample).toBeUndefined();
      }
      // inputs are never disposed by the scheduler
      expect(x.isDisposed || modelOutput.isDisposed || modelInput.isDisposed || (varianceNoise?.isDisposed ?? false)).toBe(false);
      out.predOriginalSample?.dispose();
      for (const tensor of [x, modelInput, modelOutput, varianceNoise]) tensor?.dispose();
      x = out.prevSample;
    }
    x.dispose();
    (s as { dispose?: () => void }).dispose?.();
    expect(tf.memory().numTensors, 'tensors leaked by the rollout').toBe(before);
    summary.push(
      `${name} rollout max abs diff: model_input ${worst.input.toExponential(2)}, model_output ${worst.output.toExponential(2)}, ` +
        `prev_sample ${worst.prev.toExponential(2)}` + (preds ? `, pred_original_sample ${worst.pred.toExponential(2)}` : '') +
        ` (max |prev| ${maxAbs(prevs.data).toFixed(1)})`,
    );
  });

  it.each(NAMES)('%s: add_noise per timestep and batched, no leaks', (name) => {
    const c = load(name);
    const s = build(c);
    if (s instanceof EulerDiscreteScheduler) s.setTimesteps(50);
    const x0h = host(c, 'add_noise_x0');
    const noiseH = host(c, 'add_noise_noise');
    const outH = host(c, 'add_noise_out');
    const ts = Array.from(host(c, 'add_noise_t').data);
    expect(ts).toEqual(c.json.add_noise_t);
    const before = tf.memory().numTensors;
    const x0 = tf.tensor(x0h.data, [...x0h.shape]); // [1, 4, 8, 8]
    const noise = tf.tensor(noiseH.data, [...noiseH.shape]); // [1, 4, 8, 8]
    let worst = 0;
    ts.forEach((t, i) => {
      const y = s.addNoise(x0, noise, t); // [1, 4, 8, 8]
      const expected = slice(outH, i);
      worst = Math.max(worst, expectClose(`${name} add_noise t=${t}`, y.dataSync(), expected.data, expected.shape));
      y.dispose();
    });
    // one call for the whole batch: item i at timestep i
    const x0s = tf.concat(ts.map(() => x0)); // [4, 4, 8, 8]
    const noises = tf.concat(ts.map(() => noise)); // [4, 4, 8, 8]
    const batched = s.addNoise(x0s, noises, ts); // [4, 4, 8, 8]
    expectClose(`${name} add_noise batched`, batched.dataSync(), outH.data, [ts.length, 4, 8, 8]);
    expect(x0.isDisposed || noise.isDisposed || x0s.isDisposed || noises.isDisposed).toBe(false);
    tf.dispose([x0, noise, x0s, noises, batched]);
    expect(tf.memory().numTensors, 'tensors leaked by addNoise').toBe(before);
    summary.push(`${name} add_noise max abs diff ${worst.toExponential(2)}`);
  });
});

describe.skipIf(dir === undefined)('DDPM without injected noise', () => {
  it('draws reproducible noise from a seed', async () => {
    await tf.setBackend('cpu');
    const c = load('ddpm');
    const s = build(c) as DDPMScheduler;
    s.setTimesteps(10);
    const x = tf.ones([1, 2, 2, 4]);
    const eps = tf.zeros([1, 2, 2, 4]);
    const a = s.step(eps, 901, x, { seed: 5 });
    const b = s.step(eps, 901, x, { seed: 5 });
    const d = s.step(eps, 901, x, { seed: 6 });
    expect(Array.from(a.prevSample.dataSync())).toEqual(Array.from(b.prevSample.dataSync()));
    expect(Array.from(a.prevSample.dataSync())).not.toEqual(Array.from(d.prevSample.dataSync()));
    tf.dispose([x, eps, a.prevSample, a.predOriginalSample!, b.prevSample, b.predOriginalSample!, d.prevSample, d.predOriginalSample!]);
  });
});
