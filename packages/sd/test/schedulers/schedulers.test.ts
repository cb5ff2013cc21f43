/**
 * Scheduler behaviour without fixtures: configs, spacings (expected values from NumPy running diffusers 0.25.1's
 * `set_timesteps` expressions), typed errors, no leaks, and exactness properties: a model that returns the true
 * ε (or v, or x0) of a noised sample must make every deterministic sampler retrace the forward trajectory.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedError } from '@erase/core';
import type { Scheduler } from '@erase/core';
import {
  DDIMScheduler,
  DDPMScheduler,
  EulerDiscreteScheduler,
  PNDMScheduler,
  schedulerFromConfig,
} from '../../src/schedulers/index';

const SD1 = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
  skip_prk_steps: true,
  trained_betas: null,
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('configs', () => {
  it('fromConfig ignores unknown keys, fills defaults and accepts camelCase', () => {
    const snake = DDIMScheduler.fromConfig({ ...SD1, some_future_key: 3 });
    expect(snake.config.betaSchedule).toBe('scaled_linear');
    expect(snake.config.timestepSpacing).toBe('leading');
    expect(snake.config.predictionType).toBe('epsilon');
    expect(snake.finalAlphaCumprod).toBe(snake.alphasCumprod[0]);
    const camel = new DDIMScheduler({ betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', stepsOffset: 1, setAlphaToOne: false, clipSample: false });
    expect(Array.from(camel.alphasCumprod)).toEqual(Array.from(snake.alphasCumprod));
    expect(new DDIMScheduler().finalAlphaCumprod).toBe(1);
  });

  it('rejects bad values naming the snake_case key', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ beta_schedule: 'cosine' }, 'DDIMScheduler.beta_schedule'],
      [{ num_train_timesteps: 0 }, 'DDIMScheduler.num_train_timesteps'],
      [{ num_train_timesteps: 1e9 }, 'DDIMScheduler.num_train_timesteps'], // capped: the schedule would be 8 GB of floats
      [{ timestep_spacing: 'uniform' }, 'DDIMScheduler.timestep_spacing'],
      [{ clip_sample: 'yes' }, 'DDIMScheduler.clip_sample'],
      [{ trained_betas: [0.1, 'x'] }, 'DDIMScheduler.trained_betas'],
      [{ trained_betas: [0.1, 0.2], num_train_timesteps: 3 }, 'DDIMScheduler.trained_betas'],
    ];
    for (const [config, option] of bad) {
      expect(() => DDIMScheduler.fromConfig(config)).toThrow(expect.objectContaining({ option }));
    }
    expect(() => EulerDiscreteScheduler.fromConfig({ interpolation_type: 'cubic' })).toThrow(
      expect.objectContaining({ option: 'EulerDiscreteScheduler.interpolation_type' }),
    );
    expect(() => DDIMScheduler.fromConfig({ beta_schedule: 'sigmoid' })).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
  });

  it('raises UnsupportedError for features not implemented', () => {
    expect(() => DDIMScheduler.fromConfig({ thresholding: true })).toThrow(expect.objectContaining({ code: 'ERASE_UNSUPPORTED' }));
    expect(() => DDPMScheduler.fromConfig({ variance_type: 'learned_range' })).toThrow(/learned_range/);
    expect(() => schedulerFromConfig({ _class_name: 'DPMSolverMultistepScheduler' })).toThrow(/DDIMScheduler, DDPMScheduler/);
    expect(() => schedulerFromConfig({ _class_name: 'LMSDiscreteScheduler' })).toThrow(UnsupportedError);
  });

  it('schedulerFromConfig dispatches on _class_name, or on an explicit class', () => {
    expect(schedulerFromConfig(SD1)).toBeInstanceOf(PNDMScheduler);
    expect(schedulerFromConfig({ ...SD1, _class_name: 'DDIMScheduler' })).toBeInstanceOf(DDIMScheduler);
    expect(schedulerFromConfig({ ...SD1, _class_name: 'DDPMScheduler' })).toBeInstanceOf(DDPMScheduler);
    expect(schedulerFromConfig({ ...SD1, _class_name: 'EulerDiscreteScheduler' })).toBeInstanceOf(EulerDiscreteScheduler);
    expect(schedulerFromConfig(SD1, 'EulerDiscreteScheduler')).toBeInstanceOf(EulerDiscreteScheduler);
    expect(() => schedulerFromConfig({ beta_start: 0.1 })).toThrow(expect.objectContaining({ option: '_class_name' }));
  });

  it('trained_betas replace the schedule; squaredcos_cap_v2 matches the float64 formula rounded to float32', () => {
    const s = DDPMScheduler.fromConfig({ num_train_timesteps: 3, trained_betas: [0.1, 0.2, 0.5] });
    // torch: α = 1 − β in float32, cumprod accumulated in float64 and rounded per element
    const [a0, a1, a2] = [0.1, 0.2, 0.5].map((b) => Math.fround(1 - Math.fround(b))) as [number, number, number];
    expect(Array.from(s.alphasCumprod)).toEqual([a0, a0 * a1, a0 * a1 * a2].map(Math.fround));
    const cos = DDIMScheduler.fromConfig({ beta_schedule: 'squaredcos_cap_v2' });
    // NumPy: float32(min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999)) with ᾱ(t) = cos²((t + 0.008)/1.008·π/2)
    const expected: [number, number][] = [[0, 4.128422369831242e-5], [1, 4.614175122696906e-5], [500, 0.003155691549181938], [998, 0.7499994039535522], [999, 0.9990000128746033]];
    for (const [i, b] of expected) expect(cos.betas[i]).toBe(b);
  });

  it('rescale_betas_zero_snr gives ᾱ_T = 0 (DDIM) and ᾱ_T = 2^-24 with a finite σ_max (Euler)', () => {
    const ddim = DDIMScheduler.fromConfig({ ...SD1, rescale_betas_zero_snr: true });
    const plain = DDIMScheduler.fromConfig(SD1);
    expect(ddim.alphasCumprod[999]).toBe(0);
    expect(ddim.alphasCumprod[0]).toBeCloseTo(plain.alphasCumprod[0] as number, 6);
    const euler = EulerDiscreteScheduler.fromConfig({ ...SD1, rescale_betas_zero_snr: true });
    expect(euler.alphasCumprod[999]).toBe(2 ** -24);
    expect(euler.sigmas[0]).toBeCloseTo(Math.sqrt((1 - 2 ** -24) / 2 ** -24), 0);
  });
});

describe('timestep spacings (NumPy reference values)', () => {
  it('DDIM/DDPM linspace (round half to even) and trailing', () => {
    const lin = DDIMScheduler.fromConfig({ ...SD1, timestep_spacing: 'linspace' });
    lin.setTimesteps(7);
    expect(lin.timesteps).toEqual([999, 832, 666, 500, 333, 166, 0]);
    const trail = DDPMScheduler.fromConfig({ ...SD1, timestep_spacing: 'trailing' });
    trail.setTimesteps(7);
    expect(trail.timesteps).toEqual([999, 856, 713, 570, 428, 285, 142]);
    trail.setTimesteps(10);
    expect(trail.timesteps).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });

  it('PNDM with Runge–Kutta steps, and PLMS with trailing spacing', () => {
    const prk = PNDMScheduler.fromConfig({ ...SD1, skip_prk_steps: false });
    prk.setTimesteps(7);
    expect(prk.timesteps).toEqual([853, 782, 782, 711, 711, 640, 640, 569, 569, 498, 498, 427, 427, 285, 143, 1]);
    prk.setTimesteps(10);
    expect(prk.timesteps).toEqual([901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1]);
    const trail = PNDMScheduler.fromConfig({ ...SD1, timestep_spacing: 'trailing' });
    trail.setTimesteps(7);
    expect(trail.timesteps).toEqual([999, 856, 856, 713, 570, 428, 285, 142]);
  });

  it('Euler trailing and linspace (float32)', () => {
    const trail = EulerDiscreteScheduler.fromConfig({ ...SD1, timestep_spacing: 'trailing' });
    trail.setTimesteps(7);
    expect(trail.timesteps).toEqual([999, 856, 713, 570, 428, 285, 142]);
    expect(trail.initNoiseSigma).toBe(trail.sigmas[0]);
    const lin = EulerDiscreteScheduler.fromConfig(SD1);
    lin.setTimesteps(7);
    expect(lin.timesteps).toEqual([999, 832.5, 666, 499.5, 333, 166.5, 0]);
    expect(lin.sigmas.length).toBe(8);
    expect(lin.sigmas[7]).toBe(0);
  });

  it('Karras sigmas run from σ_max to σ_min with timesteps mapped back onto [0, 999]', () => {
    const k = EulerDiscreteScheduler.fromConfig({ ...SD1, use_karras_sigmas: true });
    k.setTimesteps(12);
    const plain = EulerDiscreteScheduler.fromConfig(SD1);
    plain.setTimesteps(12);
    expect(k.sigmas[0]).toBeCloseTo(plain.sigmas[0] as number, 4);
    expect(k.sigmas[11]).toBeCloseTo(plain.sigmas[11] as number, 5);
    expect(k.timesteps[0]).toBeCloseTo(999, 2);
    expect(k.timesteps[11]).toBeCloseTo(0, 2);
    for (let i = 1; i < 12; i++) expect(k.sigmas[i]).toBeLessThan(k.sigmas[i - 1] as number);
  });

  it('rejects bad step counts and timesteps', () => {
    const s = DDIMScheduler.fromConfig(SD1);
    for (const n of [0, 1001, 2.5, Number.NaN]) expect(() => s.setTimesteps(n)).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
    const x = tf.zeros([1, 2, 2, 4]);
    expect(() => s.step(x, 901, x)).toThrow(/setTimesteps/);
    s.setTimesteps(10);
    expect(() => s.step(x, 1000, x)).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
    const wrongShape = tf.zeros([1, 2, 2, 3]);
    expect(() => s.step(wrongShape, 901, x)).toThrow(expect.objectContaining({ code: 'ERASE_SHAPE_MISMATCH' }));
    const e = EulerDiscreteScheduler.fromConfig(SD1);
    e.setTimesteps(10);
    expect(() => e.step(x, 500, x)).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
    expect(() => e.addNoise(x, x, 500)).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
    expect(() => s.addNoise(x, x, [1, 2, 3])).toThrow(expect.objectContaining({ code: 'ERASE_SHAPE_MISMATCH' }));
    const wrongNoise = tf.zeros([2]);
    expect(() => DDPMScheduler.fromConfig(SD1).step(x, 10, x, { varianceNoise: wrongNoise })).toThrow(
      expect.objectContaining({ code: 'ERASE_SHAPE_MISMATCH' }),
    );
    tf.dispose([x, wrongNoise, wrongShape]);
  });

  it('refuses step counts whose timesteps leave the schedule, PRK warm-ups too short to run, and η outside [0, 1]', () => {
    // leading spacing with steps_offset 1: n = 1000 would start at t = 1000
    expect(() => DDIMScheduler.fromConfig(SD1).setTimesteps(1000)).toThrow(/timestep 1000, outside \[0, 999\]/);
    expect(() => DDIMScheduler.fromConfig({ ...SD1, steps_offset: -1 }).setTimesteps(10)).toThrow(/timestep -1/);
    DDIMScheduler.fromConfig(SD1).setTimesteps(999); // the largest that fits
    expect(() => new PNDMScheduler().setTimesteps(1)).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
    const two = new PNDMScheduler();
    two.setTimesteps(2); // one or two Runge–Kutta steps, as diffusers
    expect(two.timesteps.length).toBeGreaterThan(0);
    new PNDMScheduler({ skip_prk_steps: true }).setTimesteps(1);
    const s = DDIMScheduler.fromConfig(SD1);
    s.setTimesteps(10);
    const x = tf.zeros([1, 2, 2, 4]);
    for (const eta of [Number.NaN, 2, -0.5]) expect(() => s.step(x, 901, x, { eta })).toThrow(/eta/);
    x.dispose();
  });
});

/** x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε for a fixed x0 and ε, in float64 on the host. */
function trajectory(s: Scheduler, x0: number[], eps: number[], t: number): number[] {
  const a = t >= 0 ? (s.alphasCumprod[t] as number) : 1;
  return x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * (eps[i] as number));
}

const X0 = [0.3, -0.7, 1.1, 0.05, -0.2, 0.9, -1.3, 0.4];
const EPS = [1.2, 0.4, -0.8, 0.1, -1.5, 0.6, 0.2, -0.3];
const SHAPE = [2, 2, 2]; // any layout: ops are elementwise

function expectNear(actual: tf.Tensor, expected: number[], atol: number, label: string): void {
  const a = Array.from(actual.dataSync());
  const d = Math.max(...a.map((v, i) => Math.abs(v - (expected[i] as number))));
  expect(d, `${label}: max abs diff ${d}`).toBeLessThanOrEqual(atol);
}

/** Runs a whole schedule with an oracle model; returns the final sample and disposes everything else. */
function rollout(s: Scheduler, oracle: (x: tf.Tensor, t: number) => tf.Tensor, start: tf.Tensor): tf.Tensor {
  let x = tf.clone(start);
  for (const t of s.timesteps) {
    const input = s.scaleModelInput(x, t);
    const out = oracle(input, t);
    const r = s.step(out, t, x);
    tf.dispose([input, out, x, r.predOriginalSample ?? []]);
    x = r.prevSample;
  }
  return x;
}

describe('exact-model properties', () => {
  const eps = () => tf.tensor(EPS, SHAPE);

  it('DDIM (η = 0) retraces the trajectory for ε, v and x0 predictions and ends at x0 (set_alpha_to_one)', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample']) {
      const s = DDIMScheduler.fromConfig({ ...SD1, prediction_type: prediction, set_alpha_to_one: true });
      s.setTimesteps(10);
      const oracle = (_x: tf.Tensor, t: number): tf.Tensor => {
        const a = s.alphasCumprod[t] as number;
        const values = prediction === 'epsilon' ? EPS : prediction === 'sample' ? X0 : EPS.map((e, i) => Math.sqrt(a) * e - Math.sqrt(1 - a) * (X0[i] as number));
        return tf.tensor(values, SHAPE);
      };
      const start = tf.tensor(trajectory(s, X0, EPS, 901), SHAPE);
      const before = tf.memory().numTensors;
      const end = rollout(s, oracle, start);
      expect(tf.memory().numTensors).toBe(before + 1);
      expectNear(end, X0, 2e-5, `DDIM ${prediction}`);
      tf.dispose([start, end]);
    }
  });

  it('DDIM η > 0 adds exactly σ_t(η)·z (eq. 16)', () => {
    const s = DDIMScheduler.fromConfig(SD1);
    s.setTimesteps(10);
    const x = tf.tensor(trajectory(s, X0, EPS, 501), SHAPE);
    const z = tf.tensor(X0.map((v) => v * 2), SHAPE);
    const zero = tf.zerosLike(z);
    const e = eps();
    const a = s.step(e, 501, x, { eta: 0.7, varianceNoise: z });
    const b = s.step(e, 501, x, { eta: 0.7, varianceNoise: zero });
    const at = s.alphasCumprod[501] as number;
    const ap = s.alphasCumprod[401] as number;
    const sigma = 0.7 * Math.sqrt(((1 - ap) / (1 - at)) * (1 - at / ap));
    expectNear(tf.sub(a.prevSample, b.prevSample), X0.map((v) => 2 * v * sigma), 1e-6, 'σ_t·z');
    expect(z.isDisposed || zero.isDisposed || x.isDisposed || e.isDisposed).toBe(false);
    tf.dispose([x, z, zero, e, a.prevSample, a.predOriginalSample!, b.prevSample, b.predOriginalSample!]);
  });

  it('PNDM (PLMS and PRK) retraces the trajectory for a constant true ε and frees its history', () => {
    for (const skip of [true, false]) {
      const s = PNDMScheduler.fromConfig({ ...SD1, skip_prk_steps: skip, set_alpha_to_one: true });
      s.setTimesteps(10);
      const start = tf.tensor(trajectory(s, X0, EPS, s.timesteps[0] as number), SHAPE);
      const before = tf.memory().numTensors;
      const end = rollout(s, () => eps(), start);
      expectNear(end, X0, 2e-5, `PNDM skip_prk_steps=${skip}`);
      s.dispose();
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([start, end]);
    }
  });

  it('Euler ends at x0 for ε, v and x0 predictions (x = x0 + σ·ε)', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample']) {
      const s = EulerDiscreteScheduler.fromConfig({ ...SD1, prediction_type: prediction });
      s.setTimesteps(10);
      const sigmaOf = new Map(s.timesteps.map((t, i) => [t, s.sigmas[i] as number]));
      const oracle = (_x: tf.Tensor, t: number): tf.Tensor => {
        const sigma = sigmaOf.get(t) as number;
        const a = 1 / (sigma * sigma + 1); // ᾱ at σ
        const values = prediction === 'epsilon' ? EPS : prediction === 'sample' ? X0 : EPS.map((e, i) => Math.sqrt(a) * e - Math.sqrt(1 - a) * (X0[i] as number));
        return tf.tensor(values, SHAPE);
      };
      const start = tf.tensor(X0.map((v, i) => v + (s.sigmas[0] as number) * (EPS[i] as number)), SHAPE);
      const before = tf.memory().numTensors;
      const end = rollout(s, oracle, start);
      expect(tf.memory().numTensors).toBe(before + 1);
      expectNear(end, X0, 5e-5, `Euler ${prediction}`);
      tf.dispose([start, end]);
    }
  });

  it('DDPM predicts x0 exactly and adds √β̃·z (fixed_small) or √β·z (fixed_large)', () => {
    for (const variance of ['fixed_small', 'fixed_large', 'fixed_small_log']) {
      const s = DDPMScheduler.fromConfig({ ...SD1, variance_type: variance });
      s.setTimesteps(10);
      const x = tf.tensor(trajectory(s, X0, EPS, 501), SHAPE);
      const z = tf.tensor(EPS, SHAPE);
      const zero = tf.zerosLike(z);
      const e = eps();
      const before = tf.memory().numTensors;
      const a = s.step(e, 501, x, { varianceNoise: z });
      const b = s.step(e, 501, x, { varianceNoise: zero });
      expect(tf.memory().numTensors).toBe(before + 4);
      expectNear(a.predOriginalSample!, X0, 2e-5, `DDPM ${variance} x̂0`);
      const at = s.alphasCumprod[501] as number;
      const ap = s.alphasCumprod[401] as number;
      const beta = 1 - at / ap;
      const scale = variance === 'fixed_large' ? Math.sqrt(beta) : Math.sqrt(((1 - ap) / (1 - at)) * beta);
      expectNear(tf.sub(a.prevSample, b.prevSample), EPS.map((v) => v * scale), 1e-6, `DDPM ${variance} noise`);
      tf.dispose([x, z, zero, e, a.prevSample, a.predOriginalSample!, b.prevSample, b.predOriginalSample!]);
    }
  });

  it('scaleModelInput returns a tensor the caller owns and clone() is independent', () => {
    const x = tf.tensor(X0, SHAPE);
    for (const s of [DDIMScheduler.fromConfig(SD1), DDPMScheduler.fromConfig(SD1), PNDMScheduler.fromConfig(SD1)]) {
      const y = s.scaleModelInput(x, 1);
      expect(y).not.toBe(x);
      y.dispose();
      expect(x.isDisposed).toBe(false);
    }
    const e = EulerDiscreteScheduler.fromConfig(SD1);
    e.setTimesteps(10);
    const c = e.clone();
    expect(c.timesteps.length).toBe(1000);
    const y = e.scaleModelInput(x, 999);
    expectNear(y, X0.map((v) => v / Math.sqrt((e.sigmas[0] as number) ** 2 + 1)), 1e-6, 'c_in·x');
    tf.dispose([x, y]);
  });
});

describe('no leaks and inputs untouched', () => {
  it.each(['DDIMScheduler', 'DDPMScheduler', 'PNDMScheduler', 'EulerDiscreteScheduler'])('%s: scaleModelInput, step, addNoise', (name) => {
    const s = schedulerFromConfig({ ...SD1, _class_name: name });
    s.setTimesteps(5);
    const x = tf.tensor(X0, SHAPE);
    const e = tf.tensor(EPS, SHAPE);
    const noise = tf.tensor(EPS, SHAPE);
    const t = s.timesteps[0] as number;
    const before = tf.memory().numTensors;
    const input = s.scaleModelInput(x, t);
    expect(tf.memory().numTensors).toBe(before + 1);
    const out = s.step(e, t, x, { varianceNoise: noise, eta: 0.5 });
    const returned = out.predOriginalSample ? 2 : 1;
    (s as { dispose?: () => void }).dispose?.(); // PNDM keeps copies of past outputs until then
    expect(tf.memory().numTensors).toBe(before + 1 + returned);
    const noisy = s.addNoise(x, noise, t);
    expect(tf.memory().numTensors).toBe(before + 2 + returned);
    expect([x, e, noise].some((v) => v.isDisposed)).toBe(false);
    tf.dispose([input, out.prevSample, out.predOriginalSample ?? [], noisy]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, e, noise]);
  });

  it('Euler with S_churn adds √(σ̂² − σ²)·z before the Euler step (Karras Alg. 2)', () => {
    const s = EulerDiscreteScheduler.fromConfig(SD1);
    s.setTimesteps(10);
    const x = tf.tensor(X0, SHAPE);
    const e = tf.tensor(EPS, SHAPE);
    const z = tf.tensor(X0.map((v) => -v), SHAPE);
    const out = s.step(e, s.timesteps[0] as number, x, { sChurn: 1, varianceNoise: z });
    const sigma = s.sigmas[0] as number;
    const gamma = Math.min(1 / 10, Math.SQRT2 - 1);
    const sigmaHat = sigma * (gamma + 1);
    const churned = X0.map((v) => v - v * Math.sqrt(sigmaHat ** 2 - sigma ** 2));
    const expected = churned.map((v, i) => v + ((s.sigmas[1] as number) - sigmaHat) * (EPS[i] as number)); // d = ε for ε-prediction
    expectNear(out.prevSample, expected, 2e-5, 'Euler churn');
    for (const bad of [{ sChurn: Number.NaN }, { sNoise: -1 }, { sTmin: Number.POSITIVE_INFINITY }, { sTmax: Number.NaN }]) {
      expect(() => s.step(e, s.timesteps[0] as number, x, bad)).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
    }
    tf.dispose([x, e, z, out.prevSample, out.predOriginalSample!]);
  });
});
