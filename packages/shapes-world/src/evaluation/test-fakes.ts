/**
 * Test-only fakes for the measurement (not exported by the package): a `DiffusionModel` whose "generation" returns
 * procedurally drawn ShapesWorld shapes, chosen through a real cross-attention readout, and a nearest-template
 * classifier that names them without error.
 *
 * Notation (D = 48):
 *   embedding  class word k → e_k (k < 10); synonym j of class k → e_k when `tiedSynonyms`, else e_{10+3k+j};
 *              every other token → a fixed random vector in dims 40…47 (scale 0.3)
 *   encoder    E[p] = Σ_{q ≤ p} emb(id_q)  (causal: the word and every end token after it carry e_k)
 *   readout    site `readout.attn2`: W_v [10, D] with W_v[k, ·] = 1 on e_k and on class k's synonym dims;
 *              W_k and site `extra.attn2` (4 × D) are random and unused — edited and restored all the same
 *   choice     s = Σ_p W_v E[p] ∈ ℝ^10; label = argmax s when max s > 3, else `priorLabel` (the prefix's prior)
 *   denoiser   ε = (z_t − √ᾱ_t x0)/√(1 − ᾱ_t) with x0 = the chosen class's template latents, so DDIM ends at x0
 *              (up to √(1 − ᾱ_0) ≈ 0.03 of noise). Use guidance scale 1 (the unconditional branch is not modelled).
 * The "a photo of the k" prompt scores 11 (positions 5…15); after a UCE edit of k its score falls near 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  UnsupportedError,
  type CrossAttentionSite,
  type DiffusionModel,
  type LoraAdapter,
  type NoisePredictor,
  type ProjectionName,
  type TextEncoder,
  type TokenizedBatch,
} from '@erase/core';
import { CLIPTokenizer, schedulerFromConfig } from '@erase/sd';
import { shapesWorldTokenizerDir } from '../assets';
import { PixelUnshuffleCodec } from '../codec/pixel-unshuffle';
import { generateClassImages } from '../generator/generate';
import { SAMPLING_SCHEDULER_CONFIG } from '../model/configs';
import type { ImageClassifierLike } from '../oracle/accuracy';
import { CLASS_NAMES, SHAPE_CLASSES } from '../world/vocabulary';

const D = 48;
const K = 10;

/** Options of `fakeWorld`. */
export interface FakeWorldOptions {
  /** Synonyms share their class's embedding (no residue possible) or have their own (residue). */
  readonly tiedSynonyms: boolean;
  /** Label generated when no class clears the threshold (default 4, heart). */
  readonly priorLabel?: number;
}

/** The fakes and what they were built from. */
export interface FakeWorld {
  readonly model: DiffusionModel;
  readonly classifier: ImageClassifierLike;
  /** Template image per class, [24·24·3] in [-1, 1]. */
  readonly templates: readonly Float32Array[];
  readonly sites: readonly CrossAttentionSite[];
  dispose(): void;
}

class FakeSite implements CrossAttentionSite {
  readonly heads = 1;
  readonly contextDim = D;
  readonly weights: Record<ProjectionName, tf.Variable>;
  constructor(readonly path: string, readonly innerDim: number, toK: Float32Array, toV: Float32Array) {
    this.weights = {
      to_k: tf.variable(tf.tensor2d(toK, [innerDim, D]), false),
      to_v: tf.variable(tf.tensor2d(toV, [innerDim, D]), false),
    };
  }
  readProjection(name: ProjectionName): tf.Tensor2D {
    return tf.clone(this.weights[name]) as tf.Tensor2D;
  }
  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void {
    this.weights[name].assign(weight);
  }
}

class FakeTextEncoder implements TextEncoder {
  readonly hiddenSize = D;
  readonly maxLength: number;
  readonly vocabSize: number;
  private readonly table: tf.Tensor2D;
  constructor(private readonly tokenizer: CLIPTokenizer, private readonly embedding: Float32Array) {
    this.maxLength = tokenizer.modelMaxLength;
    this.vocabSize = tokenizer.vocabSize;
    this.table = tf.tensor2d(embedding, [this.vocabSize, D]);
  }
  tokenize(prompts: readonly string[]): TokenizedBatch {
    const out = this.tokenizer.call([...prompts], { padding: 'max_length', maxLength: this.maxLength, truncation: true });
    return { inputIds: out.inputIds, attentionMask: out.attentionMask, lengths: out.lengths };
  }
  encode(inputIds: tf.Tensor2D): tf.Tensor3D {
    const [b, t] = inputIds.shape;
    const ids = inputIds.dataSync();
    const out = new Float32Array(b * t * D);
    for (let n = 0; n < b; n++) {
      const running = new Float64Array(D);
      for (let p = 0; p < t; p++) {
        const id = ids[n * t + p] as number;
        for (let j = 0; j < D; j++) {
          running[j] = (running[j] as number) + (this.embedding[id * D + j] as number);
          out[(n * t + p) * D + j] = running[j] as number;
        }
      }
    }
    return tf.tensor3d(out, [b, t, D]); // [B, T, D]
  }
  encodePrompts(prompts: readonly string[]): tf.Tensor3D {
    const ids = tf.tensor2d(this.tokenize(prompts).inputIds.map((r) => [...r]), [prompts.length, this.maxLength], 'int32'); // [B, T]
    try {
      return this.encode(ids);
    } finally {
      ids.dispose();
    }
  }
  tokenEmbeddings(): tf.Tensor2D {
    return this.table;
  }
  vocabulary(): ReadonlyMap<string, number> {
    return this.tokenizer.vocab;
  }
  dispose(): void {
    this.table.dispose();
  }
}

class FakeUNet implements NoisePredictor {
  readonly inChannels = 12;
  readonly sampleSize = 12;
  readonly contextDim = D;
  constructor(
    private readonly sites: readonly FakeSite[],
    private readonly templateLatents: readonly Float32Array[],
    private readonly alphasCumprod: Float32Array,
    private readonly priorLabel: number,
  ) {}
  predict(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): tf.Tensor4D {
    const t = typeof timesteps === 'number' ? timesteps : (timesteps.dataSync()[0] as number);
    const [b, tokens] = context.shape;
    const ctx = context.dataSync();
    const readout = (this.sites[0] as FakeSite).weights.to_v.dataSync(); // [10, D]
    const z = latents.dataSync();
    const size = z.length / b;
    const alphaBar = this.alphasCumprod[t] as number;
    const eps = new Float32Array(z.length);
    for (let n = 0; n < b; n++) {
      const scores = new Float64Array(K);
      for (let p = 0; p < tokens; p++) {
        for (let k = 0; k < K; k++) {
          let dot = 0;
          for (let j = 0; j < D; j++) dot += (readout[k * D + j] as number) * (ctx[(n * tokens + p) * D + j] as number);
          scores[k] = (scores[k] as number) + dot;
        }
      }
      let best = 0;
      for (let k = 1; k < K; k++) if ((scores[k] as number) > (scores[best] as number)) best = k;
      const x0 = this.templateLatents[(scores[best] as number) > 3 ? best : this.priorLabel] as Float32Array;
      for (let i = 0; i < size; i++) {
        eps[n * size + i] = ((z[n * size + i] as number) - Math.sqrt(alphaBar) * (x0[i] as number)) / Math.sqrt(1 - alphaBar);
      }
    }
    return tf.tensor4d(eps, latents.shape); // [B, 12, 12, 12]
  }
  crossAttentionSites(): readonly CrossAttentionSite[] {
    return this.sites;
  }
  attachLora(): LoraAdapter {
    throw new UnsupportedError('The evaluation fake has no LoRA.');
  }
  parameters(): ReadonlyMap<string, tf.Variable> {
    return new Map(this.sites.flatMap((s) => [[`${s.path}.to_k.weight`, s.weights.to_k], [`${s.path}.to_v.weight`, s.weights.to_v]] as const));
  }
}

/** Builds the fakes (see the file comment). Call `dispose()` when done. */
export function fakeWorld(options: FakeWorldOptions): FakeWorld {
  const priorLabel = options.priorLabel ?? 4;
  const tokenizer = CLIPTokenizer.fromPretrained(shapesWorldTokenizerDir());
  const vocab = tokenizer.vocab;
  const rng = new Rng(7);
  const embedding = new Float32Array(tokenizer.vocabSize * D);
  for (let id = 0; id < tokenizer.vocabSize; id++) for (let j = 40; j < D; j++) embedding[id * D + j] = 0.3 * rng.normal();
  const setWord = (word: string, dim: number): void => {
    const id = vocab.get(`${word}</w>`) as number;
    embedding.fill(0, id * D, (id + 1) * D);
    embedding[id * D + dim] = 1;
  };
  const readout = new Float32Array(K * D);
  SHAPE_CLASSES.forEach((c, k) => {
    setWord(c.name, k);
    readout[k * D + k] = 1;
    c.synonyms.forEach((s, j) => {
      const dim = options.tiedSynonyms ? k : K + 3 * k + j;
      setWord(s, dim);
      readout[k * D + dim] = 1;
    });
  });
  const random = (n: number): Float32Array => Float32Array.from({ length: n }, () => 0.1 * rng.normal());
  const sites = [new FakeSite('readout.attn2', K, random(K * D), readout), new FakeSite('extra.attn2', 4, random(4 * D), random(4 * D))];
  const codec = new PixelUnshuffleCodec();
  const templates = SHAPE_CLASSES.map((_, k) => generateClassImages({ shapeClass: k, count: 1, seed: 100 + k }).images);
  const templateLatents = templates.map((image) => {
    const latent = tf.tidy(() => codec.encode(tf.tensor4d(image, [1, 24, 24, 3]))); // [1, 12, 12, 12]
    const data = latent.dataSync() as Float32Array;
    latent.dispose();
    return Float32Array.from(data);
  });
  const scheduler = schedulerFromConfig(SAMPLING_SCHEDULER_CONFIG as Record<string, unknown>);
  const textEncoder = new FakeTextEncoder(tokenizer, embedding);
  const unet = new FakeUNet(sites, templateLatents, scheduler.alphasCumprod, priorLabel);
  const model: DiffusionModel = {
    source: 'fake:shapes-world',
    textEncoder,
    unet,
    scheduler,
    codec,
    latentShape: [12, 12, 12],
    defaultGuidanceScale: 1,
    dispose: () => undefined,
  };
  const classifier: ImageClassifierLike = {
    classNames: CLASS_NAMES,
    classify: (images: tf.Tensor4D): tf.Tensor2D => {
      const [b] = images.shape;
      const x = images.dataSync();
      const pixels = x.length / b;
      const logits = new Float32Array(b * K);
      for (let n = 0; n < b; n++) {
        for (let k = 0; k < K; k++) {
          const template = templates[k] as Float32Array;
          let d = 0;
          for (let i = 0; i < pixels; i++) d += ((x[n * pixels + i] as number) - (template[i] as number)) ** 2;
          logits[n * K + k] = -d / pixels / 0.005;
        }
      }
      return tf.tidy(() => tf.softmax(tf.tensor2d(logits, [b, K]))) as tf.Tensor2D; // [B, 10]
    },
  };
  return {
    model,
    classifier,
    templates,
    sites,
    dispose: () => {
      textEncoder.dispose();
      for (const s of sites) {
        s.weights.to_k.dispose();
        s.weights.to_v.dispose();
      }
    },
  };
}
