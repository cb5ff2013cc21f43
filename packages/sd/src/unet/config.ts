/**
 * The typed config of `UNet2DConditionModel`, parsed from diffusers' `config.json` (snake_case on disk, camelCase
 * here), with diffusers 0.25.1's defaults and its quirks resolved once:
 *
 * - `attention_head_dim` is the **number of heads** when `num_attention_heads` is null (diffusers' naming bug, kept
 *   for checkpoint compatibility): SD 1.x `attention_head_dim: 8` → 8 heads everywhere; SD 2.x `[5, 10, 20, 20]` →
 *   5, 10, 20, 20 heads of `channels / heads` = 64 channels. diffusers 0.25.1 itself refuses a non-null
 *   `num_attention_heads`, so do we.
 * - Scalars that may be per-block lists (`layers_per_block`, `cross_attention_dim`, `transformer_layers_per_block`,
 *   `attention_head_dim`) become one entry per down block.
 * - Everything SD 1.x/2.x does not use (class/addition embeddings, scale-shift resnets, dual cross-attention, …)
 *   throws `UnsupportedError` naming the key, instead of being silently ignored.
 */
import { InvalidOptionError, UnsupportedError } from '@erase/core';
import { MAX_REPEATED_LAYERS, camelizeConfig } from '../io/config';

/** Down block types this implementation builds. */
export type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
/** Up block types this implementation builds. */
export type UpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

/** A resolved UNet2DConditionModel config (camelCase; per-block values expanded to one entry per down block). */
export interface UNet2DConditionConfig {
  readonly sampleSize: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly centerInputSample: boolean;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  readonly downBlockTypes: readonly DownBlockType[];
  /** `null`: no mid block. */
  readonly midBlockType: 'UNetMidBlock2DCrossAttn' | null;
  readonly upBlockTypes: readonly UpBlockType[];
  readonly blockOutChannels: readonly number[];
  /** Per down block; up block i has `layersPerBlock[reversed i] + 1` resnets. */
  readonly layersPerBlock: readonly number[];
  readonly downsamplePadding: number;
  readonly midBlockScaleFactor: number;
  /** Kept for reference; dropout is not applied (inference, and SD's value is 0). */
  readonly dropout: number;
  readonly actFn: 'silu' | 'swish';
  readonly normNumGroups: number;
  readonly normEps: number;
  /** Per down block. */
  readonly crossAttentionDim: readonly number[];
  /** Per down block. */
  readonly transformerLayersPerBlock: readonly number[];
  /** Attention heads per down block (resolved from `attention_head_dim`, see the file comment). */
  readonly numAttentionHeads: readonly number[];
  readonly useLinearProjection: boolean;
  /** Accepted; a no-op in float32 (diffusers upcasts q·kᵀ to float32). */
  readonly upcastAttention: boolean;
  readonly resnetOutScaleFactor: number;
  /** Width E of the time embedding (`time_embedding_dim` or 4 × blockOutChannels[0]). */
  readonly timeEmbedDim: number;
  readonly convInKernel: number;
  readonly convOutKernel: number;
}

type Raw = Record<string, unknown>;

/** Keys that must keep their "off" value; any other value is unsupported. */
const MUST_BE_OFF: readonly [string, unknown][] = [
  ['addition_embed_type', null],
  ['class_embed_type', null],
  ['num_class_embeds', null],
  ['encoder_hid_dim', null],
  ['encoder_hid_dim_type', null],
  ['time_cond_proj_dim', null],
  ['time_embedding_act_fn', null],
  ['timestep_post_act', null],
  ['cross_attention_norm', null],
  ['reverse_transformer_layers_per_block', null],
  ['num_attention_heads', null],
  ['projection_class_embeddings_input_dim', null],
  ['addition_time_embed_dim', null],
  ['dual_cross_attention', false],
  ['resnet_skip_time_act', false],
  ['class_embeddings_concat', false],
  ['time_embedding_type', 'positional'],
  ['resnet_time_scale_shift', 'default'],
  ['attention_type', 'default'],
];

/**
 * Parses a diffusers `UNet2DConditionModel` config object (the parsed `config.json`).
 * @param source named in errors (e.g. the file path)
 * @throws UnsupportedError naming the key for features SD 1.x/2.x do not use; InvalidOptionError for malformed values
 */
export function parseUNetConfig(raw: Readonly<Record<string, unknown>>, source = 'config.json'): UNet2DConditionConfig {
  const c: Raw = camelizeConfig(raw);
  const className = c.className;
  if (className !== undefined && className !== 'UNet2DConditionModel') {
    throw new UnsupportedError(`${source}: _class_name "${String(className)}" is not supported (expected UNet2DConditionModel).`);
  }
  for (const [key, off] of MUST_BE_OFF) {
    const value = c[camel(key)];
    if (value !== undefined && value !== off) {
      throw new UnsupportedError(`${source}: ${key} = ${JSON.stringify(value)} is not supported (only ${JSON.stringify(off)}, as in SD 1.x/2.x).`);
    }
  }
  const onlyCross = c.onlyCrossAttention;
  if (onlyCross !== undefined && onlyCross !== false && !(Array.isArray(onlyCross) && onlyCross.every((v) => v === false))) {
    throw new UnsupportedError(`${source}: only_cross_attention = ${JSON.stringify(onlyCross)} is not supported (only false).`);
  }

  const downBlockTypes = stringList(c, 'down_block_types', ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'], source);
  const upBlockTypes = stringList(c, 'up_block_types', ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'], source);
  for (const t of downBlockTypes) {
    if (t !== 'CrossAttnDownBlock2D' && t !== 'DownBlock2D') throw new UnsupportedError(`${source}: down_block_types entry "${t}" is not supported (CrossAttnDownBlock2D, DownBlock2D).`);
  }
  for (const t of upBlockTypes) {
    if (t !== 'CrossAttnUpBlock2D' && t !== 'UpBlock2D') throw new UnsupportedError(`${source}: up_block_types entry "${t}" is not supported (CrossAttnUpBlock2D, UpBlock2D).`);
  }
  const midRaw = c.midBlockType === undefined ? 'UNetMidBlock2DCrossAttn' : c.midBlockType;
  if (midRaw !== null && midRaw !== 'UNetMidBlock2DCrossAttn') {
    throw new UnsupportedError(`${source}: mid_block_type "${String(midRaw)}" is not supported (UNetMidBlock2DCrossAttn or null).`);
  }
  const blocks = downBlockTypes.length;
  const blockOutChannels = intList(c, 'block_out_channels', [320, 640, 1280, 1280], source);
  if (blockOutChannels.length !== blocks || upBlockTypes.length !== blocks) {
    throw new InvalidOptionError({
      option: 'block_out_channels',
      expected: `as many entries as down_block_types (${blocks}) and up_block_types (${upBlockTypes.length})`,
      received: blockOutChannels,
    });
  }
  const actFn = c.actFn ?? 'silu';
  if (actFn !== 'silu' && actFn !== 'swish') throw new UnsupportedError(`${source}: act_fn "${String(actFn)}" is not supported (silu).`);
  const normNumGroups = int(c, 'norm_num_groups', 32, source);
  const numAttentionHeads = perBlock(c, 'attention_head_dim', 8, blocks, source);
  for (let i = 0; i < blocks; i++) {
    const channels = blockOutChannels[i] as number;
    const heads = numAttentionHeads[i] as number;
    if (channels % heads !== 0) {
      throw new InvalidOptionError({ option: 'attention_head_dim', expected: `head counts dividing block_out_channels[${i}] = ${channels}`, received: heads });
    }
    if (channels % normNumGroups !== 0) {
      throw new InvalidOptionError({ option: 'norm_num_groups', expected: `a divisor of block_out_channels[${i}] = ${channels}`, received: normNumGroups });
    }
  }
  const timeEmbeddingDim = c.timeEmbeddingDim ?? null;
  const timeEmbedDim = timeEmbeddingDim === null ? 4 * (blockOutChannels[0] as number) : int(c, 'time_embedding_dim', 0, source);
  const sampleSizeRaw = c.sampleSize ?? 64;
  const sizes: unknown[] = Array.isArray(sampleSizeRaw) ? sampleSizeRaw : [sampleSizeRaw];
  if (sizes.length === 0 || !sizes.every((n) => Number.isSafeInteger(n) && (n as number) > 0)) {
    throw new InvalidOptionError({ option: 'sample_size', expected: `a positive integer or a list of them (${source})`, received: sampleSizeRaw });
  }
  const sampleSize = sizes[0] as number;
  const convInKernel = int(c, 'conv_in_kernel', 3, source);
  const convOutKernel = int(c, 'conv_out_kernel', 3, source);
  if (convInKernel % 2 === 0 || convOutKernel % 2 === 0) throw new InvalidOptionError({ option: 'conv_in_kernel/conv_out_kernel', expected: 'odd kernel sizes', received: [convInKernel, convOutKernel] });

  const crossAttentionDim = perBlock(c, 'cross_attention_dim', 1280, blocks, source);
  if (crossAttentionDim.some((d) => d !== crossAttentionDim[0])) {
    throw new UnsupportedError(`${source}: cross_attention_dim = ${JSON.stringify(crossAttentionDim)} is not supported (one context width for every block).`);
  }

  return {
    sampleSize,
    inChannels: int(c, 'in_channels', 4, source),
    outChannels: int(c, 'out_channels', 4, source),
    centerInputSample: bool(c, 'center_input_sample', false, source),
    flipSinToCos: bool(c, 'flip_sin_to_cos', true, source),
    freqShift: num(c, 'freq_shift', 0, source),
    downBlockTypes: downBlockTypes as DownBlockType[],
    midBlockType: midRaw,
    upBlockTypes: upBlockTypes as UpBlockType[],
    blockOutChannels,
    layersPerBlock: perBlock(c, 'layers_per_block', 2, blocks, source, MAX_REPEATED_LAYERS),
    downsamplePadding: int(c, 'downsample_padding', 1, source),
    midBlockScaleFactor: num(c, 'mid_block_scale_factor', 1, source),
    dropout: num(c, 'dropout', 0, source),
    actFn,
    normNumGroups,
    normEps: positiveNum(c, 'norm_eps', 1e-5, source),
    crossAttentionDim,
    transformerLayersPerBlock: perBlock(c, 'transformer_layers_per_block', 1, blocks, source, MAX_REPEATED_LAYERS),
    numAttentionHeads,
    useLinearProjection: bool(c, 'use_linear_projection', false, source),
    upcastAttention: bool(c, 'upcast_attention', false, source),
    resnetOutScaleFactor: num(c, 'resnet_out_scale_factor', 1, source),
    timeEmbedDim,
    convInKernel,
    convOutKernel,
  };
}

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
}

function num(c: Raw, key: string, fallback: number, source: string): number {
  const v = c[camel(key)];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidOptionError({ option: key, expected: `a finite number (${source})`, received: v });
  return v;
}

function int(c: Raw, key: string, fallback: number, source: string): number {
  const v = num(c, key, fallback, source);
  if (!Number.isInteger(v) || v < 0) throw new InvalidOptionError({ option: key, expected: `a non-negative integer (${source})`, received: v });
  return v;
}

function positiveNum(c: Raw, key: string, fallback: number, source: string): number {
  const v = num(c, key, fallback, source);
  if (!(v > 0)) throw new InvalidOptionError({ option: key, expected: `a positive number (${source})`, received: v });
  return v;
}

function bool(c: Raw, key: string, fallback: boolean, source: string): boolean {
  const v = c[camel(key)];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new InvalidOptionError({ option: key, expected: `a boolean (${source})`, received: v });
  return v;
}

function stringList(c: Raw, key: string, fallback: string[], source: string): string[] {
  const v = c[camel(key)];
  if (v === undefined || v === null) return fallback;
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    throw new InvalidOptionError({ option: key, expected: `a non-empty list of strings (${source})`, received: v });
  }
  return v as string[];
}

function intList(c: Raw, key: string, fallback: number[], source: string): number[] {
  const v = c[camel(key)];
  if (v === undefined || v === null) return fallback;
  if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && (n as number) > 0)) {
    throw new InvalidOptionError({ option: key, expected: `a non-empty list of positive integers (${source})`, received: v });
  }
  return v as number[];
}

/** A positive integer (at most `max`) or a list of one per block → one entry per block. */
function perBlock(c: Raw, key: string, fallback: number, blocks: number, source: string, max = Number.MAX_SAFE_INTEGER): number[] {
  const v = c[camel(key)];
  const ok = (n: unknown): boolean => Number.isInteger(n) && (n as number) > 0 && (n as number) <= max;
  if (v === undefined || v === null) return new Array<number>(blocks).fill(fallback);
  if (ok(v)) return new Array<number>(blocks).fill(v as number);
  if (Array.isArray(v) && v.length === blocks && v.every(ok)) return v as number[];
  const range = max === Number.MAX_SAFE_INTEGER ? 'positive integers' : `integers in [1, ${max}]`;
  throw new InvalidOptionError({ option: key, expected: `one of the ${range} or a list of ${blocks} (${source})`, received: v });
}
