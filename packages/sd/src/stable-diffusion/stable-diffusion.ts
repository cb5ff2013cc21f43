/**
 * The Stable Diffusion bundle: tokenizer + CLIP text model + UNet + VAE + scheduler as core's `DiffusionModel`,
 * loaded from a diffusers folder (`fromPretrained`) or a single-file LDM checkpoint (`fromSingleFile`).
 * Nothing is downloaded: every file comes from the given paths.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  FileFormatError,
  InvalidOptionError,
  type DiffusionModel,
  type LatentCodec,
  type Scheduler,
} from '@erase/core';
import { useBackend, type BackendName } from '../backend/use-backend';
import { camelizeConfig, readJsonConfig } from '../io/config';
import { loadComponent, readModelIndex, type LoadedComponent } from '../io/diffusers-folder';
import { loadSingleFileCheckpoint, type SingleFileOptions } from '../io/single-file';
import { schedulerFromConfig, schedulerFromPretrained } from '../schedulers/from-config';
import { CLIPTextModel } from '../text-encoder/clip-text-model';
import { parseClipTextConfig } from '../text-encoder/config';
import { CLIPTokenizer } from '../tokenizer/clip-tokenizer';
import { UNet2DConditionModel } from '../unet/unet-2d-condition';
import { parseUNetConfig } from '../unet/config';
import { AutoencoderKL } from '../vae/autoencoder-kl';
import { parseAutoencoderKLConfig } from '../vae/config';
import { ClipTextEncoder } from './clip-text-encoder';

/** The SD 1.x/2.x scheduler config that pipelines ship (`scheduler/scheduler_config.json`), as diffusers writes it. */
export const SD_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'PNDMScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
  skip_prk_steps: true,
  trained_betas: null,
});

/** Options shared by both loaders. */
export interface StableDiffusionLoadOptions {
  /** Weight variant of a diffusers folder, e.g. 'fp16' (weights are upcast to float32). */
  readonly variant?: string;
  /** Make this tfjs backend active before any weight is uploaded (see `useBackend`). Default: leave as is. */
  readonly backend?: BackendName;
  /** wasm threads, with `backend: 'wasm'` (default: every core). */
  readonly threads?: number;
  /** Scheduler to use instead of the folder's (an instance, or a scheduler config JSON with `_class_name`). */
  readonly scheduler?: Scheduler | Readonly<Record<string, unknown>>;
  /** Default classifier-free guidance scale of the bundle; default 7.5 (diffusers' default). */
  readonly guidanceScale?: number;
  /** Skip the last k CLIP layers (diffusers `clip_skip`); default 0. */
  readonly clipSkip?: number;
  /** Make the UNet weights trainable (ESD-u style fine-tuning); default false. */
  readonly trainableUnet?: boolean;
}

/** Options of `fromSingleFile`: a single file has no tokenizer or scheduler, so give them here. */
export interface StableDiffusionSingleFileOptions extends StableDiffusionLoadOptions, SingleFileOptions {
  /** A tokenizer folder (vocab.json + merges.txt, or tokenizer.json) — required. */
  readonly tokenizer: string | CLIPTokenizer;
  /** SD 2.x v-prediction checkpoints need `'v_prediction'`; default 'epsilon'. */
  readonly predictionType?: 'epsilon' | 'v_prediction';
}

/** Stable Diffusion as a `DiffusionModel`. Owns its models: call `dispose()` when done. */
export class StableDiffusion implements DiffusionModel {
  readonly textEncoder: ClipTextEncoder;
  readonly codec: LatentCodec;
  readonly latentShape: readonly [number, number, number];

  private constructor(
    readonly source: string,
    readonly tokenizer: CLIPTokenizer,
    readonly textModel: CLIPTextModel,
    readonly unet: UNet2DConditionModel,
    readonly vae: AutoencoderKL,
    readonly scheduler: Scheduler,
    readonly defaultGuidanceScale: number,
    clipSkip: number,
  ) {
    this.textEncoder = new ClipTextEncoder(tokenizer, textModel, { clipSkip });
    this.codec = vae.asLatentCodec();
    this.latentShape = [unet.sampleSize, unet.sampleSize, unet.inChannels];
  }

  /** Assembles a bundle from loaded parts (they become owned by the bundle). */
  static fromComponents(parts: {
    readonly source: string;
    readonly tokenizer: CLIPTokenizer;
    readonly textModel: CLIPTextModel;
    readonly unet: UNet2DConditionModel;
    readonly vae: AutoencoderKL;
    readonly scheduler: Scheduler;
    readonly guidanceScale?: number;
    readonly clipSkip?: number;
  }): StableDiffusion {
    const guidance = parts.guidanceScale ?? 7.5;
    if (!Number.isFinite(guidance)) throw new InvalidOptionError({ option: 'guidanceScale', expected: 'a finite number', received: guidance });
    if (parts.textModel.hiddenSize !== parts.unet.contextDim) {
      throw new InvalidOptionError({
        option: 'textModel',
        expected: `a text encoder of width ${parts.unet.contextDim} (the UNet's cross_attention_dim)`,
        received: parts.textModel.hiddenSize,
      });
    }
    return new StableDiffusion(
      parts.source,
      parts.tokenizer,
      parts.textModel,
      parts.unet,
      parts.vae,
      parts.scheduler,
      guidance,
      parts.clipSkip ?? 0,
    );
  }

  /**
   * Loads a diffusers folder: `model_index.json`, `tokenizer/`, `text_encoder/`, `unet/`, `vae/`, `scheduler/`.
   * Weights may be single files, `.fp16` variants or sharded (`*.safetensors.index.json`).
   * @throws FileFormatError naming a missing folder or file; WeightKeysError listing every key mismatch;
   *   UnsupportedError for pickle-only folders
   */
  static async fromPretrained(dir: string, options: StableDiffusionLoadOptions = {}): Promise<StableDiffusion> {
    const index = readModelIndex(dir);
    if (options.backend !== undefined) await useBackend(options.backend, { threads: options.threads });
    for (const part of ['tokenizer', 'text_encoder', 'unet', 'vae']) {
      if (!(part in index.components) && !existsSync(join(dir, part))) {
        throw new FileFormatError({
          file: join(dir, 'model_index.json'),
          expected: `a "${part}" component (a Stable Diffusion pipeline folder)`,
          problem: `"${part}" is not listed and ${join(dir, part)} does not exist`,
        });
      }
    }
    const tokenizer = CLIPTokenizer.fromPretrained(join(dir, 'tokenizer'));
    // each config is checked before that part's weights (or the next part's) are read
    const load = (part: string, checkConfig: (config: Record<string, unknown>) => unknown): LoadedComponent =>
      loadComponent(join(dir, part), { variant: options.variant, checkConfig });
    const text = load('text_encoder', (c) => parseClipTextConfig(c, join(dir, 'text_encoder', 'config.json')));
    const unet = load('unet', (c) => parseUNetConfig(c, join(dir, 'unet', 'config.json')));
    const vae = load('vae', (c) => parseAutoencoderKLConfig(c, join(dir, 'vae', 'config.json')));
    return StableDiffusion.build(dir, tokenizer, { text, unet, vae, unetConfigFile: join(dir, 'unet', 'config.json') }, options, () =>
      existsSync(join(dir, 'scheduler')) ? schedulerFromPretrained(join(dir, 'scheduler')) : schedulerFromConfig(SD_SCHEDULER_CONFIG),
    );
  }

  /**
   * Loads a single-file SD 1.x/2.x checkpoint in original LDM key names (`.safetensors`; what A1111 and ComfyUI
   * use). SD 1.x and 2.x are told apart from the weights; the tokenizer comes from `options.tokenizer`.
   * @throws UnsupportedError for `.ckpt`/pickle files (convert them to .safetensors first) and SDXL;
   *   InvalidOptionError without a tokenizer; FileFormatError / WeightKeysError as `fromPretrained`
   */
  static async fromSingleFile(file: string, options: StableDiffusionSingleFileOptions): Promise<StableDiffusion> {
    if (options?.tokenizer === undefined) {
      throw new InvalidOptionError({
        option: 'tokenizer',
        expected: 'a tokenizer folder (vocab.json + merges.txt) — single-file checkpoints do not include one',
        received: undefined,
      });
    }
    const tokenizer = typeof options.tokenizer === 'string' ? CLIPTokenizer.fromPretrained(options.tokenizer) : options.tokenizer;
    const checkpoint = loadSingleFileCheckpoint(file, options);
    if (options.backend !== undefined) await useBackend(options.backend, { threads: options.threads });
    if (!checkpoint.vae || !checkpoint.textEncoder) {
      throw new FileFormatError({
        file,
        expected: 'a full SD checkpoint (first_stage_model.* and cond_stage_model.* keys besides the UNet)',
        problem: `${checkpoint.vae ? '' : 'the VAE '}${!checkpoint.vae && !checkpoint.textEncoder ? 'and ' : ''}${checkpoint.textEncoder ? '' : 'the text encoder '}is missing`,
      });
    }
    return StableDiffusion.build(
      file,
      tokenizer,
      { text: checkpoint.textEncoder, unet: checkpoint.unet, vae: checkpoint.vae, unetConfigFile: file },
      options,
      () => schedulerFromConfig({ ...SD_SCHEDULER_CONFIG, prediction_type: options.predictionType ?? 'epsilon' }),
    );
  }

  /** Builds the three models from loaded weights (freeing what was built if a later part fails) and assembles. */
  private static build(
    source: string,
    tokenizer: CLIPTokenizer,
    parts: { text: LoadedComponent; unet: LoadedComponent; vae: LoadedComponent; unetConfigFile: string },
    options: StableDiffusionLoadOptions,
    defaultScheduler: () => Scheduler,
  ): StableDiffusion {
    const built: { textModel?: CLIPTextModel; unet?: UNet2DConditionModel; vae?: AutoencoderKL } = {};
    try {
      built.textModel = CLIPTextModel.fromWeights(parts.text.config, parts.text.weights, { source: parts.text.files[0] ?? source });
      built.unet = UNet2DConditionModel.fromWeights(parseUNetConfig(parts.unet.config, parts.unetConfigFile), parts.unet.weights, {
        source: parts.unet.files[0] ?? source,
        trainable: options.trainableUnet ?? false,
      });
      built.vae = AutoencoderKL.fromWeights(parts.vae.config, parts.vae.weights, { source: parts.vae.files[0] ?? source });
      return StableDiffusion.fromComponents({
        source,
        tokenizer,
        textModel: built.textModel,
        unet: built.unet,
        vae: built.vae,
        scheduler: resolveScheduler(options.scheduler, defaultScheduler),
        guidanceScale: options.guidanceScale,
        clipSkip: options.clipSkip,
      });
    } catch (error) {
      built.textModel?.dispose();
      built.unet?.dispose();
      built.vae?.dispose();
      throw error;
    }
  }

  /** Frees every weight of the bundle. */
  dispose(): void {
    this.textModel.dispose();
    this.unet.dispose();
    this.vae.dispose();
    this.scheduler.dispose?.();
  }
}

function resolveScheduler(
  given: Scheduler | Readonly<Record<string, unknown>> | undefined,
  fallback: () => Scheduler,
): Scheduler {
  if (given === undefined) return fallback();
  if (typeof (given as Scheduler).step === 'function') return given as Scheduler;
  return schedulerFromConfig(given as Readonly<Record<string, unknown>>);
}

/** Reads a component folder's `config.json` as camelCase (for callers that inspect configs). */
export function readComponentConfig(dir: string): Record<string, unknown> {
  return camelizeConfig(readJsonConfig(join(dir, 'config.json')));
}
