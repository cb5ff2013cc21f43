/**
 * A tiny fake `DiffusionModel` for method tests, extended from @erase/sd's `test/fakes/fake-model.ts`: the "UNet"
 * is two real cross-attention layers whose to_k / to_v are tf.Variables (editable through `CrossAttentionSite`)
 * and a working LoRA (attach, scale, fuse, detach), so both the closed form and gradient training act on the
 * prediction. Deterministic, no files, a few hundred floats.
 *
 * ε(z, t, E) = (1 + t/1000) · h,  h = x + Σ_sites softmax(q kᵀ/√d) v W_o,  x = z as [B, HW, C],
 *   q = h_prev W_q, k = E (W_k + s B_k A_k)ᵀ, v = E (W_v + s B_v A_v)ᵀ.
 * Text encoder: <bos> + one id per word + <eos>, padded with <eos> to T = 8; E[t] = table[id_t] + 0.3 · pos[t].
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  InvalidOptionError,
  Rng,
  type CrossAttentionSite,
  type DiffusionModel,
  type LatentCodec,
  type LoraAdapter,
  type LoraConfig,
  type NoisePredictor,
  type TextEncoder,
  type TokenizedBatch,
} from '@erase/core';
import { FakeScheduler } from '../../../sd/test/fakes/fake-model';
import { VariableSite } from './variable-site';

export const T = 8;
export const D = 6;
const V = 32;
const INNER = 4;
const C = 2;

function seeded(shape: number[], seed: number, std = 1): tf.Tensor {
  return new Rng(seed).normalTensor(shape, std);
}

class FakeTextEncoder implements TextEncoder {
  readonly hiddenSize = D;
  readonly maxLength = T;
  readonly vocabSize = V;
  private readonly table = seeded([V, D], 1) as tf.Tensor2D; // [V, D]
  private readonly positions = seeded([T, D], 2, 0.3) as tf.Tensor2D; // [T, D]
  tokenize(prompts: readonly string[]): TokenizedBatch {
    const words = prompts.map((p) => p.split(/\s+/).filter(Boolean).slice(0, T - 2));
    const inputIds = words.map((w) => {
      const ids = [30, ...w.map((x) => (x.charCodeAt(0) % 29) + 1), 31];
      while (ids.length < T) ids.push(31);
      return ids;
    });
    const lengths = words.map((w) => w.length + 2);
    const attentionMask = lengths.map((n) => Array.from({ length: T }, (_, i) => (i < n ? 1 : 0)));
    return { inputIds, attentionMask, lengths };
  }
  encode(inputIds: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => tf.add(tf.gather(this.table, inputIds), this.positions) as tf.Tensor3D); // [B, T, D]
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
    this.positions.dispose();
  }
}

interface Factors {
  readonly down: tf.Variable;
  readonly up: tf.Variable;
}

class FakeLora implements LoraAdapter {
  readonly config: LoraConfig;
  readonly layers: Map<string, Factors>;
  readonly variables: tf.Variable[];
  scale = 1;
  constructor(private readonly unet: FakeAttentionUnet, config: LoraConfig, layers: Map<string, Factors>) {
    this.config = { ...config, alpha: config.alpha ?? config.rank };
    this.layers = layers;
    this.variables = [...layers.values()].flatMap((l) => [l.down, l.up]);
  }
  /** s · (α/r) · B A [out, in] for a module, or undefined. */
  delta(path: string): tf.Tensor2D | undefined {
    const layer = this.layers.get(path);
    if (!layer) return undefined;
    const factor = (this.scale * (this.config.alpha ?? this.config.rank)) / this.config.rank;
    return tf.mul(tf.matMul(layer.up, layer.down), factor) as tf.Tensor2D; // [out, r] x [r, in] -> [out, in]
  }
  fuse(): void {
    for (const site of this.unet.sites) {
      for (const name of ['to_k', 'to_v'] as const) {
        const variable = site.weights[name];
        tf.tidy(() => {
          const d = this.delta(`${site.path}.${name}`);
          if (d) variable.assign(tf.add(variable, d));
        });
      }
    }
    this.detach();
  }
  detach(): void {
    if (this.unet.lora !== this) return;
    this.unet.lora = undefined;
    for (const v of this.variables) v.dispose();
  }
}

export class FakeAttentionUnet implements NoisePredictor {
  readonly inChannels = C;
  readonly sampleSize = 4;
  readonly contextDim = D;
  readonly sites: VariableSite[];
  lora: FakeLora | undefined;
  calls = 0;
  private readonly queries: tf.Tensor2D[];
  private readonly outputs: tf.Tensor2D[];

  constructor() {
    this.sites = [0, 1].map((i) => {
      const k = seeded([INNER, D], 10 + i, 0.5) as tf.Tensor2D;
      const v = seeded([INNER, D], 20 + i, 0.5) as tf.Tensor2D;
      const site = new VariableSite(`blocks.${i}.attn2`, 2, k, v);
      k.dispose();
      v.dispose();
      return site;
    });
    this.queries = [0, 1].map((i) => seeded([C, INNER], 30 + i) as tf.Tensor2D); // W_q [C, inner]
    this.outputs = [0, 1].map((i) => seeded([INNER, C], 40 + i, 0.5) as tf.Tensor2D); // W_o [inner, C]
  }

  predict(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): tf.Tensor4D {
    this.calls += 1;
    return tf.tidy(() => {
      const [b, hh, ww, c] = latents.shape;
      const tokens = context.shape[1];
      const x = tf.reshape(latents, [b, hh * ww, c]); // [B, HW, C]
      let h: tf.Tensor3D = x as tf.Tensor3D;
      const flatContext = tf.reshape(context, [b * tokens, D]) as tf.Tensor2D; // [B·T, D]
      this.sites.forEach((site, i) => {
        const project = (name: 'to_k' | 'to_v'): tf.Tensor3D => {
          const d = this.lora?.delta(`${site.path}.${name}`);
          const w = d ? tf.add(site.weights[name], d) : site.weights[name]; // [out, D]
          return tf.reshape(tf.matMul(flatContext, w as tf.Tensor2D, false, true), [b, tokens, INNER]) as tf.Tensor3D; // [B, T, out]
        };
        const k = project('to_k');
        const v = project('to_v');
        const q = tf.reshape(tf.matMul(tf.reshape(h, [b * hh * ww, c]) as tf.Tensor2D, this.queries[i] as tf.Tensor2D), [b, hh * ww, INNER]) as tf.Tensor3D; // [B, HW, inner]
        const attention = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(INNER))); // [B, HW, T]
        const mixed = tf.matMul(attention, v); // [B, HW, inner]
        const out = tf.reshape(tf.matMul(tf.reshape(mixed, [b * hh * ww, INNER]) as tf.Tensor2D, this.outputs[i] as tf.Tensor2D), [b, hh * ww, c]); // [B, HW, C]
        h = tf.add(h, out) as tf.Tensor3D;
      });
      const scale = typeof timesteps === 'number' ? tf.scalar(1 + timesteps / 1000) : tf.reshape(tf.add(tf.div(timesteps, 1000), 1), [b, 1, 1]);
      return tf.reshape(tf.mul(h, scale), [b, hh, ww, c]) as tf.Tensor4D; // [B, H, W, C]
    });
  }

  crossAttentionSites(): readonly CrossAttentionSite[] {
    return this.sites;
  }

  attachLora(config: LoraConfig): LoraAdapter {
    if (this.lora) throw new InvalidOptionError({ option: 'lora', expected: 'no adapter attached', received: 'an attached adapter' });
    const rng = new Rng(config.seed ?? 0);
    const layers = new Map<string, Factors>();
    for (const site of this.sites) {
      for (const name of ['to_k', 'to_v']) {
        const path = `${site.path}.${name}`;
        if (!config.targetModules.some((t) => path === t || path.endsWith(`.${t}`))) continue;
        const values = Float32Array.from({ length: config.rank * D }, () => rng.normal() / Math.sqrt(D));
        layers.set(path, {
          down: tf.tidy(() => tf.variable(tf.tensor2d(values, [config.rank, D]), true)), // A [r, in]
          up: tf.tidy(() => tf.variable(tf.zeros([INNER, config.rank]), true)), // B [out, r]
        });
      }
    }
    if (layers.size === 0) throw new InvalidOptionError({ option: 'targetModules', expected: 'suffixes of attn2.to_k / attn2.to_v', received: config.targetModules });
    this.lora = new FakeLora(this, config, layers);
    return this.lora;
  }

  parameters(): ReadonlyMap<string, tf.Variable> {
    return new Map(this.sites.flatMap((s) => [[`${s.path}.to_k.weight`, s.weights.to_k], [`${s.path}.to_v.weight`, s.weights.to_v]] as const));
  }

  dispose(): void {
    this.lora?.detach();
    for (const s of this.sites) s.dispose();
    tf.dispose([...this.queries, ...this.outputs]);
  }
}

export { FakeScheduler };

const identityCodec: LatentCodec = {
  scalingFactor: 1,
  downsampleFactor: 1,
  encode: (images) => tf.slice(images, [0, 0, 0, 0], [-1, -1, -1, 2]) as tf.Tensor4D,
  decode: (latents) => tf.concat([latents, tf.slice(latents, [0, 0, 0, 0], [-1, -1, -1, 1])], 3) as tf.Tensor4D,
};

/** Builds the fake model; `dispose()` frees every tensor it holds. */
export function attentionModel(): DiffusionModel & { readonly unet: FakeAttentionUnet; readonly textEncoder: TextEncoder } {
  const textEncoder = new FakeTextEncoder();
  const unet = new FakeAttentionUnet();
  return {
    source: 'fake-attention',
    textEncoder,
    unet,
    scheduler: new FakeScheduler(),
    codec: identityCodec,
    latentShape: [4, 4, 2],
    defaultGuidanceScale: 3,
    dispose: () => {
      textEncoder.dispose();
      unet.dispose();
    },
  };
}
