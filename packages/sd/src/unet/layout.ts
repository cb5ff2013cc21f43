/**
 * The UNet's architecture as data: which blocks exist, their diffusers module paths and channel counts, derived
 * once from the config (diffusers `UNet2DConditionModel.__init__`, `get_down_block`, `get_up_block`). The forward
 * pass and the expected weight shapes both read this plan, so they cannot drift apart.
 *
 * Notation: C_i = block_out_channels[i]; L_i = layers_per_block[i]; E = time embedding width; D = context width.
 *   down block i: L_i resnets (C_{i−1} or C_i → C_i) [+ L_i transformers] [+ downsampler unless last]
 *   mid block:    resnet, (transformer, resnet) × 1, all at C_last
 *   up block i:   L_rev(i) + 1 resnets, each taking cat(h, skip) [+ transformers] [+ upsampler unless last]
 * Module order in maps follows diffusers' `named_modules()`: conv_in, time_embedding, down_blocks, up_blocks,
 * mid_block, conv_norm_out, conv_out; inside a block its attentions come before its resnets.
 */
import { addConv2dShapes, addLinearShapes, addNormShapes } from '../nn/weights';
import type { WeightShapes } from '../nn/weights';
import { addResnetBlock2dShapes } from '../nn/resnet-block';
import type { UNet2DConditionConfig } from './config';

/** A ResnetBlock2D. */
export interface ResnetPlan {
  readonly path: string;
  readonly inChannels: number;
  readonly outChannels: number;
}

/** A Transformer2DModel (spatial transformer) with its BasicTransformerBlocks. */
export interface TransformerPlan {
  readonly path: string;
  /** C of the feature map, and the transformer's inner dim (heads × headDim). */
  readonly channels: number;
  readonly heads: number;
  readonly headDim: number;
  /** D of the context (`cross_attention_dim`). */
  readonly contextDim: number;
  /** Number of BasicTransformerBlocks. */
  readonly layers: number;
  /** Linear (SD 2.x) instead of 1×1 conv (SD 1.x) proj_in/proj_out. */
  readonly linearProjection: boolean;
  readonly groups: number;
}

/** A down, mid or up block. */
export interface BlockPlan {
  readonly path: string;
  readonly resnets: readonly ResnetPlan[];
  /** Empty for DownBlock2D / UpBlock2D. */
  readonly attentions: readonly TransformerPlan[];
  /** `path.downsamplers.0` or `path.upsamplers.0`, with its channel count. */
  readonly sampler?: { readonly path: string; readonly channels: number };
}

/** The whole UNet. */
export interface UNetPlan {
  readonly down: readonly BlockPlan[];
  readonly mid: BlockPlan | undefined;
  readonly up: readonly BlockPlan[];
  /** Number of ×2 upsamplers (the latent side must be a multiple of 2^this, or the UNet resizes to the skip's size). */
  readonly numUpsamplers: number;
}

/** Builds the block plan of a config. */
export function planUNet(config: UNet2DConditionConfig): UNetPlan {
  const channels = config.blockOutChannels;
  const n = channels.length;
  const transformer = (path: string, ch: number, i: number, layers: number): TransformerPlan => {
    const heads = config.numAttentionHeads[i] as number;
    return {
      path,
      channels: ch,
      heads,
      headDim: ch / heads,
      contextDim: config.crossAttentionDim[i] as number,
      layers,
      linearProjection: config.useLinearProjection,
      groups: config.normNumGroups,
    };
  };

  const down: BlockPlan[] = [];
  let outCh = channels[0] as number;
  for (let i = 0; i < n; i++) {
    const inCh = outCh;
    outCh = channels[i] as number;
    const path = `down_blocks.${i}`;
    const layers = config.layersPerBlock[i] as number;
    const resnets: ResnetPlan[] = [];
    const attentions: TransformerPlan[] = [];
    for (let j = 0; j < layers; j++) {
      resnets.push({ path: `${path}.resnets.${j}`, inChannels: j === 0 ? inCh : outCh, outChannels: outCh });
      if (config.downBlockTypes[i] === 'CrossAttnDownBlock2D') {
        attentions.push(transformer(`${path}.attentions.${j}`, outCh, i, config.transformerLayersPerBlock[i] as number));
      }
    }
    const isFinal = i === n - 1;
    down.push({ path, resnets, attentions, ...(isFinal ? {} : { sampler: { path: `${path}.downsamplers.0`, channels: outCh } }) });
  }

  let mid: BlockPlan | undefined;
  if (config.midBlockType === 'UNetMidBlock2DCrossAttn') {
    const ch = channels[n - 1] as number;
    mid = {
      path: 'mid_block',
      resnets: [0, 1].map((j) => ({ path: `mid_block.resnets.${j}`, inChannels: ch, outChannels: ch })),
      attentions: [transformer('mid_block.attentions.0', ch, n - 1, config.transformerLayersPerBlock[n - 1] as number)],
    };
  }

  const up: BlockPlan[] = [];
  const reversedChannels = [...channels].reverse();
  const reversedLayers = [...config.layersPerBlock].reverse();
  let upOut = reversedChannels[0] as number;
  let numUpsamplers = 0;
  for (let i = 0; i < n; i++) {
    const isFinal = i === n - 1;
    const prevOut = upOut;
    upOut = reversedChannels[i] as number;
    const inCh = reversedChannels[Math.min(i + 1, n - 1)] as number;
    const rev = n - 1 - i; // the down block this up block mirrors (per-block settings are reversed)
    const path = `up_blocks.${i}`;
    const layers = (reversedLayers[i] as number) + 1;
    const resnets: ResnetPlan[] = [];
    const attentions: TransformerPlan[] = [];
    for (let j = 0; j < layers; j++) {
      const skip = j === layers - 1 ? inCh : upOut;
      const resIn = j === 0 ? prevOut : upOut;
      resnets.push({ path: `${path}.resnets.${j}`, inChannels: resIn + skip, outChannels: upOut });
      if (config.upBlockTypes[i] === 'CrossAttnUpBlock2D') {
        attentions.push(transformer(`${path}.attentions.${j}`, upOut, rev, config.transformerLayersPerBlock[rev] as number));
      }
    }
    if (!isFinal) numUpsamplers++;
    up.push({ path, resnets, attentions, ...(isFinal ? {} : { sampler: { path: `${path}.upsamplers.0`, channels: upOut } }) });
  }
  return { down, mid, up, numUpsamplers };
}

/** Adds the shapes of a Transformer2DModel and its BasicTransformerBlocks (PyTorch layout). */
export function addTransformerShapes(shapes: WeightShapes, t: TransformerPlan): void {
  const c = t.channels;
  addNormShapes(shapes, `${t.path}.norm`, c);
  if (t.linearProjection) addLinearShapes(shapes, `${t.path}.proj_in`, c, c);
  else addConv2dShapes(shapes, `${t.path}.proj_in`, c, c, 1);
  for (let j = 0; j < t.layers; j++) {
    const p = `${t.path}.transformer_blocks.${j}`;
    addNormShapes(shapes, `${p}.norm1`, c);
    addAttentionShapes(shapes, `${p}.attn1`, c, c);
    addNormShapes(shapes, `${p}.norm2`, c);
    addAttentionShapes(shapes, `${p}.attn2`, c, t.contextDim);
    addNormShapes(shapes, `${p}.norm3`, c);
    addLinearShapes(shapes, `${p}.ff.net.0.proj`, c, 2 * 4 * c);
    addLinearShapes(shapes, `${p}.ff.net.2`, 4 * c, c);
  }
  if (t.linearProjection) addLinearShapes(shapes, `${t.path}.proj_out`, c, c);
  else addConv2dShapes(shapes, `${t.path}.proj_out`, c, c, 1);
}

function addAttentionShapes(shapes: WeightShapes, path: string, inner: number, contextDim: number): void {
  addLinearShapes(shapes, `${path}.to_q`, inner, inner, false);
  addLinearShapes(shapes, `${path}.to_k`, contextDim, inner, false);
  addLinearShapes(shapes, `${path}.to_v`, contextDim, inner, false);
  addLinearShapes(shapes, `${path}.to_out.0`, inner, inner);
}

function addBlockShapes(shapes: WeightShapes, block: BlockPlan, temb: number): void {
  for (const t of block.attentions) addTransformerShapes(shapes, t);
  for (const r of block.resnets) addResnetBlock2dShapes(shapes, r.path, r.inChannels, r.outChannels, temb);
  if (block.sampler) addConv2dShapes(shapes, `${block.sampler.path}.conv`, block.sampler.channels, block.sampler.channels, 3);
}

/** Every state-dict key of the UNet with its PyTorch-layout shape, in diffusers' module order. */
export function unetWeightShapes(config: UNet2DConditionConfig, plan: UNetPlan = planUNet(config)): WeightShapes {
  const shapes: WeightShapes = new Map();
  const c0 = config.blockOutChannels[0] as number;
  addConv2dShapes(shapes, 'conv_in', config.inChannels, c0, config.convInKernel);
  addLinearShapes(shapes, 'time_embedding.linear_1', c0, config.timeEmbedDim);
  addLinearShapes(shapes, 'time_embedding.linear_2', config.timeEmbedDim, config.timeEmbedDim);
  for (const block of plan.down) addBlockShapes(shapes, block, config.timeEmbedDim);
  for (const block of plan.up) addBlockShapes(shapes, block, config.timeEmbedDim);
  if (plan.mid) addBlockShapes(shapes, plan.mid, config.timeEmbedDim);
  addNormShapes(shapes, 'conv_norm_out', c0);
  addConv2dShapes(shapes, 'conv_out', c0, config.outChannels, config.convOutKernel);
  return shapes;
}
