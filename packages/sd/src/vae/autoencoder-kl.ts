/**
 * AutoencoderKL (diffusers 0.25.1), the SD VAE, channels-last on tfjs.
 *
 * Notation (Rombach et al. 2022, §3; diffusers names in brackets):
 *   x images [B, H, W, C_in] in [−1, 1];  z latents [B, h, w, C_z];  f = H/h = 2^(L−1) (8 for SD)
 *   q(z | x) = N(μ, σ²) from moments = quant_conv(Encoder(x))        [encode(x).latent_dist]
 *   x̂ = Decoder(post_quant_conv(z))                                   [decode(z).sample]
 * `scaling_factor` s (0.18215 for SD 1.x) is NOT applied inside, exactly as in diffusers: pipelines encode with
 * `sample() · s` and decode with `decode(z / s)`. It is exposed as `scalingFactor` for them.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError, type LatentCodec } from '@erase/core';
import { loadPretrainedComponent, type PretrainedOptions } from '../io/pretrained';
import type { HostTensor } from '../io/safetensors';
import { checkWeightKeys } from '../io/weight-keys';
import { defaultTorchLayout, mapWeights, tensorToTorch, variableFromTorch, type ModuleWeights } from '../nn/weights';
import { parseAutoencoderKLConfig, vaeDownsampleFactor, type AutoencoderKLConfig } from './config';
import { vaeDecode } from './decoder';
import { DiagonalGaussian } from './diagonal-gaussian';
import { vaeEncode } from './encoder';
import { autoencoderKLWeightShapes, remapLegacyVaeKeys, vaeWeightToHost, type VaeWeightInput } from './vae-weights';

/** Options of `AutoencoderKL.fromWeights` / `fromPretrained`. */
export interface VaeLoadOptions {
  /** Named in errors; default 'AutoencoderKL weights' (fromPretrained: the safetensors path). */
  readonly source?: string;
  /** Make the weights trainable (optimizers' default var list); default false (frozen). */
  readonly trainable?: boolean;
}

/**
 * The SD VAE. Weights are `tf.Variable`s (frozen unless loaded with `trainable`) keyed by current diffusers names (`parameters()`), in tfjs layouts
 * (conv [kh, kw, in, out], Linear [in, out]). Methods are differentiable with respect to their inputs and leave no
 * tensors behind; inputs are never disposed.
 */
export class AutoencoderKL {
  /** The validated config. */
  readonly config: AutoencoderKLConfig;
  private readonly params: Map<string, tf.Variable>;
  private readonly weights: ModuleWeights;
  private disposed = false;

  private constructor(config: AutoencoderKLConfig, params: Map<string, tf.Variable>, source: string) {
    this.config = config;
    this.params = params;
    this.weights = mapWeights(params, source);
  }

  /**
   * Builds a VAE from a config (snake_case JSON or an `AutoencoderKLConfig`) and weights keyed by diffusers names in
   * the PyTorch layout. Older attention names (`query, key, value, proj_attn`) are remapped first. The weights are
   * copied; the caller keeps ownership of `weights`.
   * @throws WeightKeysError listing every missing, unexpected and wrongly shaped key (after the remap)
   * @throws InvalidOptionError / UnsupportedError for a bad config; FileFormatError for non-float weights
   */
  static fromWeights(
    config: AutoencoderKLConfig | Readonly<Record<string, unknown>>,
    weights: ReadonlyMap<string, VaeWeightInput>,
    options: VaeLoadOptions = {},
  ): AutoencoderKL {
    const source = options.source ?? 'AutoencoderKL weights';
    const parsed = parseAutoencoderKLConfig(config as Readonly<Record<string, unknown>>, source);
    const expected = autoencoderKLWeightShapes(parsed);
    const remapped = remapLegacyVaeKeys(weights);
    checkWeightKeys(source, expected, remapped);
    const params = new Map<string, tf.Variable>();
    try {
      for (const key of expected.keys()) {
        const host = vaeWeightToHost(key, remapped.get(key) as VaeWeightInput, source);
        params.set(key, variableFromTorch(host, defaultTorchLayout(host.shape), options.trainable ?? false)); // tfjs layout
      }
    } catch (error) {
      for (const v of params.values()) v.dispose();
      throw error;
    }
    return new AutoencoderKL(parsed, params, source);
  }

  /**
   * Loads `config.json` and `diffusion_pytorch_model[.variant].safetensors` (or sharded weights) from a diffusers folder
   * (an SD checkpoint's `vae/`); `options.backend` selects the tfjs backend first.
   * @throws FileFormatError when a file is missing or malformed; UnsupportedError for a `.bin`-only folder;
   *   WeightKeysError when the weights do not match the config
   */
  static async fromPretrained(dir: string, options: VaeLoadOptions & PretrainedOptions = {}): Promise<AutoencoderKL> {
    const parse = (raw: Record<string, unknown>): AutoencoderKLConfig => parseAutoencoderKLConfig(raw, join(dir, 'config.json'));
    const loaded = await loadPretrainedComponent(dir, options, parse); // the config is checked before weights are read
    const config = parse(loaded.config);
    return AutoencoderKL.fromWeights(config, loaded.weights, { ...options, source: options.source ?? loaded.files[0] });
  }

  /** s, the latent scaling factor from the config (0.18215 for SD 1.x). Not applied by `encode`/`decode`. */
  get scalingFactor(): number {
    return this.config.scalingFactor;
  }

  /** f = 2^(levels − 1), the image → latent spatial factor (8 for SD). */
  get downsampleFactor(): number {
    return vaeDownsampleFactor(this.config);
  }

  /**
   * The posterior's raw moments `quant_conv(Encoder(x))`: images float32 [B, H, W, C_in] (H, W multiples of f)
   * → [B, H/f, W/f, 2·C_z] = [μ | unclamped log σ²]. The caller owns the result.
   * @throws ShapeMismatchError / InvalidOptionError for a bad `images`
   */
  encodeMoments(images: tf.Tensor4D): tf.Tensor4D {
    this.checkImages(images);
    return vaeEncode(this.weights, this.config, images);
  }

  /**
   * The posterior q(z | x): images float32 [B, H, W, C_in] in [−1, 1] (H, W multiples of f) → a `DiagonalGaussian`
   * over [B, H/f, W/f, C_z] (μ, clamped log σ², σ). Unscaled: multiply a sample by `scalingFactor` for the UNet.
   * The caller owns (and disposes) the distribution.
   * @throws ShapeMismatchError / InvalidOptionError for a bad `images`
   */
  encode(images: tf.Tensor4D): DiagonalGaussian {
    const moments = this.encodeMoments(images); // [B, h, w, 2·C_z]
    try {
      return DiagonalGaussian.fromMoments(moments);
    } finally {
      moments.dispose();
    }
  }

  /**
   * Decodes latents float32 [B, h, w, C_z] (already divided by `scalingFactor`) → images [B, h·f, w·f, C_out]
   * in about [−1, 1]. The caller owns the result.
   * @throws ShapeMismatchError / InvalidOptionError for a bad `latents`
   */
  decode(latents: tf.Tensor4D): tf.Tensor4D {
    this.assertLive();
    checkTensor(latents, 'AutoencoderKL.decode latents', this.config.latentChannels);
    return vaeDecode(this.weights, this.config, latents);
  }

  /**
   * This VAE as core's `LatentCodec`: `encode` returns the posterior mean μ (unscaled), `decode` decodes unscaled
   * latents; `scalingFactor` and `downsampleFactor` are reported for the caller to apply. The codec shares this
   * model's weights: it stops working when the model is disposed.
   */
  asLatentCodec(): LatentCodec {
    return {
      scalingFactor: this.scalingFactor,
      downsampleFactor: this.downsampleFactor,
      encode: (images) =>
        tf.tidy(() => {
          const moments = this.encodeMoments(images); // [B, h, w, 2·C_z]
          return tf.slice(moments, [0, 0, 0, 0], [-1, -1, -1, this.config.latentChannels]) as tf.Tensor4D; // μ: [B, h, w, C_z]
        }),
      decode: (latents) => this.decode(latents),
    };
  }

  /**
   * Every weight as a `tf.Variable` keyed by its current diffusers name, in the tfjs layout. Frozen unless loaded
   * with `trainable` (set `variable.trainable = true` to train one). Owned by the model: do not dispose them.
   */
  parameters(): ReadonlyMap<string, tf.Variable> {
    this.assertLive();
    return this.params;
  }

  /**
   * The weights as host tensors in the PyTorch layout (conv [out, in, kh, kw], Linear [out, in]) under current
   * diffusers names, ready for a safetensors writer. Reads every weight synchronously; allocates no tfjs tensors.
   */
  exportWeights(): Map<string, HostTensor> {
    this.assertLive();
    const out = new Map<string, HostTensor>();
    for (const [key, value] of this.params) out.set(key, tensorToTorch(value));
    return out;
  }

  /** Frees every weight. The model (and its `asLatentCodec()` views) cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
  }

  private checkImages(images: tf.Tensor4D): void {
    this.assertLive();
    checkTensor(images, 'AutoencoderKL.encode images', this.config.inChannels);
    const f = this.downsampleFactor;
    const [, height, width] = images.shape;
    if (height % f !== 0 || width % f !== 0) {
      throw new ShapeMismatchError({
        what: `AutoencoderKL.encode images (height and width must be multiples of the downsample factor ${f})`,
        expected: [null, null, null, this.config.inChannels],
        received: images.shape,
      });
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new InvalidOptionError({ option: 'AutoencoderKL', expected: 'a model that is not disposed', received: 'disposed' });
  }
}

/** Rank 4, float32, `channels` on the last axis, non-empty. */
function checkTensor(t: tf.Tensor, what: string, channels: number): void {
  if (t.rank !== 4 || t.shape[3] !== channels || t.shape.some((d) => d < 1)) {
    throw new ShapeMismatchError({ what, expected: [null, null, null, channels], received: t.shape });
  }
  if (t.dtype !== 'float32') throw new InvalidOptionError({ option: what, expected: 'a float32 tensor', received: `a ${t.dtype} tensor` });
}
