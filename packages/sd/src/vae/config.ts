/**
 * The AutoencoderKL config (diffusers 0.25.1 `AutoencoderKL.__init__`), typed and camelCase.
 *
 * On disk the keys are snake_case (`block_out_channels`); `camelizeConfig` converts them once, here. Missing keys
 * take diffusers' defaults. Only the SD family of VAEs is supported: every down block is `DownEncoderBlock2D`,
 * every up block `UpDecoderBlock2D`, activation SiLU.
 */
import { InvalidOptionError, UnsupportedError } from '@erase/core';
import { MAX_REPEATED_LAYERS, camelizeConfig } from '../io/config';

/** A validated AutoencoderKL config. */
export interface AutoencoderKLConfig {
  /** Image channels in (3). */
  readonly inChannels: number;
  /** Image channels out (3). */
  readonly outChannels: number;
  /** Channels of each resolution level, from the image side (SD: [128, 256, 512, 512]). */
  readonly blockOutChannels: readonly number[];
  /** ResNet blocks per encoder level (the decoder has one more per level). */
  readonly layersPerBlock: number;
  /** C_z, latent channels (4). */
  readonly latentChannels: number;
  /** GroupNorm groups everywhere (32); divides every entry of `blockOutChannels`. */
  readonly normNumGroups: number;
  /** 0.18215 for SD 1.x. Not applied inside the model (see `AutoencoderKL`). */
  readonly scalingFactor: number;
  /** `sample_size` from the config (informative only: the model runs at any size divisible by the factor). */
  readonly sampleSize: number | readonly number[];
  /** Whether the mid blocks have their attention layer (diffusers ≥ 0.26 `mid_block_add_attention`; default true). */
  readonly midBlockAddAttention: boolean;
  /** Whether `quant_conv` / `post_quant_conv` exist (diffusers ≥ 0.27 `use_quant_conv`; default true). */
  readonly useQuantConv: boolean;
  readonly usePostQuantConv: boolean;
}

/** diffusers 0.25.1 `AutoencoderKL.__init__` defaults. */
const defaults = {
  inChannels: 3,
  outChannels: 3,
  blockOutChannels: [64],
  layersPerBlock: 1,
  latentChannels: 4,
  normNumGroups: 32,
  scalingFactor: 0.18215,
  sampleSize: 32,
} as const;

/**
 * Parses an AutoencoderKL config (snake_case as in `config.json`, or camelCase) into a validated config.
 * @param source the file or object the config came from, named in errors
 * @throws InvalidOptionError for a wrongly typed or inconsistent value (names the snake_case key and `source`)
 * @throws UnsupportedError for block types other than DownEncoderBlock2D / UpDecoderBlock2D or an act_fn other than silu
 */
export function parseAutoencoderKLConfig(raw: Readonly<Record<string, unknown>>, source = 'AutoencoderKL config'): AutoencoderKLConfig {
  const c = camelizeConfig(raw);
  const positiveInt = (value: unknown, snake: string): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalid(source, snake, 'a positive integer', value);
    return value;
  };
  const atMost = (value: number, max: number, snake: string): number => {
    if (value > max) throw invalid(source, snake, `a positive integer up to ${max}`, value);
    return value;
  };
  const blockOutChannels = c.blockOutChannels ?? defaults.blockOutChannels;
  if (!Array.isArray(blockOutChannels) || blockOutChannels.length === 0) {
    throw invalid(source, 'block_out_channels', 'a non-empty array of positive integers', blockOutChannels);
  }
  blockOutChannels.forEach((v: unknown) => positiveInt(v, 'block_out_channels'));
  const levels = blockOutChannels.length;
  const blockTypes = (key: 'downBlockTypes' | 'upBlockTypes', snake: string, only: string): void => {
    const types = c[key] ?? Array<string>(levels).fill(only);
    if (!Array.isArray(types) || types.length !== levels) {
      throw invalid(source, snake, `an array of ${levels} block types (one per block_out_channels entry)`, types);
    }
    const other = types.find((t) => t !== only);
    if (other !== undefined) {
      throw new UnsupportedError(`${source}: ${snake} contains ${JSON.stringify(other)}; only ${only} is supported.`);
    }
  };
  blockTypes('downBlockTypes', 'down_block_types', 'DownEncoderBlock2D');
  blockTypes('upBlockTypes', 'up_block_types', 'UpDecoderBlock2D');
  const actFn = c.actFn ?? 'silu';
  if (actFn !== 'silu' && actFn !== 'swish') {
    throw new UnsupportedError(`${source}: act_fn ${JSON.stringify(actFn)} is not supported; the VAE supports "silu".`);
  }
  const normNumGroups = positiveInt(c.normNumGroups ?? defaults.normNumGroups, 'norm_num_groups');
  for (const channels of blockOutChannels as number[]) {
    if (channels % normNumGroups !== 0) {
      throw invalid(source, 'norm_num_groups', `a divisor of every block_out_channels entry (${blockOutChannels.join(', ')})`, normNumGroups);
    }
  }
  const scalingFactor = c.scalingFactor ?? defaults.scalingFactor;
  if (typeof scalingFactor !== 'number' || !(scalingFactor > 0) || !Number.isFinite(scalingFactor)) {
    throw invalid(source, 'scaling_factor', 'a positive finite number', scalingFactor);
  }
  const flag = (value: unknown, snake: string): boolean => {
    if (value === undefined || value === null) return true;
    if (typeof value !== 'boolean') throw invalid(source, snake, 'a boolean', value);
    return value;
  };
  return {
    inChannels: positiveInt(c.inChannels ?? defaults.inChannels, 'in_channels'),
    outChannels: positiveInt(c.outChannels ?? defaults.outChannels, 'out_channels'),
    blockOutChannels: [...(blockOutChannels as number[])],
    layersPerBlock: atMost(positiveInt(c.layersPerBlock ?? defaults.layersPerBlock, 'layers_per_block'), MAX_REPEATED_LAYERS, 'layers_per_block'),
    latentChannels: positiveInt(c.latentChannels ?? defaults.latentChannels, 'latent_channels'),
    normNumGroups,
    scalingFactor,
    sampleSize: Array.isArray(c.sampleSize)
      ? c.sampleSize.map((v: unknown) => positiveInt(v, 'sample_size'))
      : positiveInt(c.sampleSize ?? defaults.sampleSize, 'sample_size'),
    midBlockAddAttention: flag(c.midBlockAddAttention, 'mid_block_add_attention'),
    useQuantConv: flag(c.useQuantConv, 'use_quant_conv'),
    usePostQuantConv: flag(c.usePostQuantConv, 'use_post_quant_conv'),
  };
}

/** Spatial factor image → latent: 2^(levels − 1) (8 for SD's 4 levels). */
export function vaeDownsampleFactor(config: AutoencoderKLConfig): number {
  return 2 ** (config.blockOutChannels.length - 1);
}

function invalid(source: string, key: string, expected: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError({
    option: key,
    expected,
    received,
    message: `${source}: invalid \`${key}\`: expected ${expected}, received ${JSON.stringify(received)}.`,
  });
}
