/**
 * A tiny fake `DiffusionModel` for pipeline and method tests: deterministic, no files, a few hundred floats.
 * The "UNet" predicts ε = a·z + mean over tokens of the context's first C channels, so conditional and
 * unconditional branches differ and guidance has a measurable effect.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  CrossAttentionSite,
  DiffusionModel,
  LatentCodec,
  LoraAdapter,
  NoisePredictor,
  Scheduler,
  SchedulerStepOptions,
  SchedulerStepOutput,
  TextEncoder,
  TokenizedBatch,
} from '@erase/core';

const T = 4;
const D = 6;

class FakeTextEncoder implements TextEncoder {
  readonly hiddenSize = D;
  readonly maxLength = T;
  readonly vocabSize = 32;
  private readonly table = tf.tidy(() => tf.reshape(tf.div(tf.range(0, 32 * D), 32 * D), [32, D]) as tf.Tensor2D); // [V, D]
  tokenize(prompts: readonly string[]): TokenizedBatch {
    const inputIds = prompts.map((p) => {
      const words = p.split(/\s+/).filter(Boolean).slice(0, T - 2);
      const ids = [30, ...words.map((w) => (w.charCodeAt(0) % 29) + 1), 31];
      while (ids.length < T) ids.push(31);
      return ids;
    });
    const lengths = prompts.map((p) => Math.min(p.split(/\s+/).filter(Boolean).length, T - 2) + 2);
    const attentionMask = lengths.map((n) => Array.from({ length: T }, (_, i) => (i < n ? 1 : 0)));
    return { inputIds, attentionMask, lengths };
  }
  encode(inputIds: tf.Tensor2D): tf.Tensor3D {
    return tf.gather(this.table, inputIds) as unknown as tf.Tensor3D; // [B, T] -> [B, T, D]
  }
  encodePrompts(prompts: readonly string[]): tf.Tensor3D {
    const ids = tf.tensor2d(this.tokenize(prompts).inputIds.map((r) => [...r]), undefined, 'int32'); // [B, T]
    const out = this.encode(ids); // [B, T, D]
    ids.dispose();
    return out;
  }
  tokenEmbeddings(): tf.Tensor2D {
    return this.table;
  }
  vocabulary(): ReadonlyMap<string, number> {
    return new Map([['a</w>', 1]]);
  }
  dispose(): void {
    this.table.dispose();
  }
}

class FakeUnet implements NoisePredictor {
  readonly inChannels = 2;
  readonly sampleSize = 4;
  readonly contextDim = D;
  calls = 0;
  predict(latents: tf.Tensor4D, _t: number | tf.Tensor1D, context: tf.Tensor3D): tf.Tensor4D {
    this.calls += 1;
    return tf.tidy(() => {
      const bias = tf.reshape(tf.slice(tf.mean(context, 1), [0, 0], [-1, 2]), [-1, 1, 1, 2]); // [B, 1, 1, C]
      return tf.add(tf.mul(latents, 0.1), bias) as tf.Tensor4D; // [B, h, w, C]
    });
  }
  crossAttentionSites(): readonly CrossAttentionSite[] {
    return [];
  }
  attachLora(): LoraAdapter {
    throw new Error('not in the fake');
  }
  parameters(): ReadonlyMap<string, tf.Variable> {
    return new Map();
  }
}

/** A minimal deterministic DDIM-like scheduler (η = 0) for pipeline plumbing tests. */
export class FakeScheduler implements Scheduler {
  readonly numTrainTimesteps = 1000;
  readonly alphasCumprod = Float32Array.from({ length: 1000 }, (_, t) => 1 - (t + 1) / 1001);
  timesteps: readonly number[] = [];
  readonly initNoiseSigma = 1;
  setTimesteps(n: number): void {
    this.timesteps = Array.from({ length: n }, (_, i) => Math.round(((n - 1 - i) * 999) / Math.max(1, n - 1)));
  }
  scaleModelInput(sample: tf.Tensor): tf.Tensor {
    return tf.clone(sample);
  }
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, _o?: SchedulerStepOptions): SchedulerStepOutput {
    const i = this.timesteps.indexOf(timestep);
    const prev = this.timesteps[i + 1];
    const a = this.alphasCumprod[timestep] as number;
    const aPrev = prev === undefined ? 1 : (this.alphasCumprod[prev] as number);
    return tf.tidy(() => {
      const x0 = tf.div(tf.sub(sample, tf.mul(modelOutput, Math.sqrt(1 - a))), Math.sqrt(a)); // x̂0
      const prevSample = tf.add(tf.mul(x0, Math.sqrt(aPrev)), tf.mul(modelOutput, Math.sqrt(1 - aPrev)));
      return { prevSample, predOriginalSample: x0 };
    });
  }
  addNoise(original: tf.Tensor, noise: tf.Tensor, timesteps: number | readonly number[]): tf.Tensor {
    const t = typeof timesteps === 'number' ? timesteps : (timesteps[0] as number);
    const a = this.alphasCumprod[t] as number;
    return tf.tidy(() => tf.add(tf.mul(original, Math.sqrt(a)), tf.mul(noise, Math.sqrt(1 - a))));
  }
  clone(): Scheduler {
    return new FakeScheduler();
  }
}

const identityCodec: LatentCodec = {
  scalingFactor: 1,
  downsampleFactor: 1,
  encode: (images) => tf.slice(images, [0, 0, 0, 0], [-1, -1, -1, 2]) as tf.Tensor4D,
  decode: (latents) => tf.concat([latents, tf.slice(latents, [0, 0, 0, 0], [-1, -1, -1, 1])], 3) as tf.Tensor4D,
};

/** Builds the fake model; `dispose()` frees its one tensor. */
export function fakeModel(): DiffusionModel & { readonly unet: FakeUnet } {
  const textEncoder = new FakeTextEncoder();
  return {
    source: 'fake',
    textEncoder,
    unet: new FakeUnet(),
    scheduler: new FakeScheduler(),
    codec: identityCodec,
    latentShape: [4, 4, 2],
    defaultGuidanceScale: 3,
    dispose: () => textEncoder.dispose(),
  };
}
