/**
 * Forward-pass FLOP counts (2 per multiply-add) of the UNet and the CLIP text encoder, from their configs.
 * Only matrix products are counted (convolutions, linears, q·kᵀ and attention·v); norms, activations and
 * elementwise work are left out, as usual. A training step is counted as 3× the forward pass (forward, and the two
 * products of the backward pass per layer).
 *
 * Notation: B batch, H×W latent size, C channels, N = h·w tokens at a level, T context tokens, D context width,
 *   E time-embedding width, F CLIP MLP width, L layers.
 *   conv k×k, Cin → Cout at an h×w output: 2·B·h·w·k²·Cin·Cout
 *   BasicTransformerBlock at C: 2·B·N·C·(4C [attn1 q,k,v,out] + 2C [attn2 q,out] + 12C [GEGLU ff])
 *     + 2·B·T·D·2C [attn2 k,v] + 2·2·B·N·N·C [attn1 scores, AV] + 2·2·B·N·T·C [attn2 scores, AV]
 *   Transformer2DModel: + 2 × 2·B·N·C² (1×1 proj_in / proj_out)
 *   CLIP layer: 2·B·T·D·(4D + 2F) + 2·2·B·T·T·D
 */
import type { UNet2DConditionConfig } from '../../src/unet/config';
import { planUNet, type BlockPlan, type TransformerPlan } from '../../src/unet/layout';
import type { ClipTextConfig } from '../../src/text-encoder/config';

const conv = (b: number, h: number, w: number, k: number, cin: number, cout: number): number => 2 * b * h * w * k * k * cin * cout;

function transformerFlops(t: TransformerPlan, b: number, n: number, tokens: number): number {
  const c = t.channels;
  const d = t.contextDim;
  const block = 2 * b * n * c * (4 * c + 2 * c + 12 * c) + 2 * b * tokens * d * 2 * c + 4 * b * n * n * c + 4 * b * n * tokens * c;
  return 2 * 2 * b * n * c * c + t.layers * block;
}

function resnetFlops(b: number, h: number, w: number, cin: number, cout: number, temb: number): number {
  return conv(b, h, w, 3, cin, cout) + conv(b, h, w, 3, cout, cout) + (cin !== cout ? conv(b, h, w, 1, cin, cout) : 0) + 2 * b * temb * cout;
}

/** FLOPs of one block at input size h×w; returns them with the output size. */
function blockFlops(block: BlockPlan, kind: 'down' | 'mid' | 'up', b: number, h: number, w: number, tokens: number, temb: number): { flops: number; h: number; w: number } {
  let flops = 0;
  block.resnets.forEach((r, j) => {
    flops += resnetFlops(b, h, w, r.inChannels, r.outChannels, temb);
    const t = kind === 'mid' ? (j === 0 ? block.attentions[0] : undefined) : block.attentions[j];
    if (t) flops += transformerFlops(t, b, h * w, tokens);
  });
  if (block.sampler && kind === 'down') {
    const c = block.sampler.channels;
    h = Math.floor((h + 2 - 3) / 2) + 1;
    w = Math.floor((w + 2 - 3) / 2) + 1;
    flops += conv(b, h, w, 3, c, c);
  } else if (block.sampler && kind === 'up') {
    h *= 2;
    w *= 2;
    flops += conv(b, h, w, 3, block.sampler.channels, block.sampler.channels);
  }
  return { flops, h, w };
}

/** Per-part forward FLOPs of the UNet for batch `b`, latents h×w and `tokens` context tokens (SD: 77). */
export function unetForwardFlopsByPart(config: UNet2DConditionConfig, b: number, h: number, w: number, tokens: number): Map<string, number> {
  const plan = planUNet(config);
  const c0 = config.blockOutChannels[0] as number;
  const e = config.timeEmbedDim;
  const parts = new Map<string, number>();
  parts.set('conv_in + time_embedding', conv(b, h, w, config.convInKernel, config.inChannels, c0) + 2 * b * (c0 * e + e * e));
  let size = { h, w };
  plan.down.forEach((block, i) => {
    const r = blockFlops(block, 'down', b, size.h, size.w, tokens, e);
    parts.set(`down_blocks.${i}`, r.flops);
    size = r;
  });
  if (plan.mid) parts.set('mid_block', blockFlops(plan.mid, 'mid', b, size.h, size.w, tokens, e).flops);
  plan.up.forEach((block, i) => {
    const r = blockFlops(block, 'up', b, size.h, size.w, tokens, e);
    parts.set(`up_blocks.${i}`, r.flops);
    size = r;
  });
  parts.set('conv_norm_out + conv_out', conv(b, h, w, config.convOutKernel, c0, config.outChannels));
  return parts;
}

/** Total forward FLOPs of the UNet (see `unetForwardFlopsByPart`). */
export function unetForwardFlops(config: UNet2DConditionConfig, b: number, h: number, w: number, tokens: number): number {
  let total = 0;
  for (const f of unetForwardFlopsByPart(config, b, h, w, tokens).values()) total += f;
  return total;
}

/** Forward FLOPs of the CLIP text encoder for batch `b` and `tokens` tokens. */
export function clipForwardFlops(config: ClipTextConfig, b: number, tokens: number): number {
  const d = config.hiddenSize;
  const f = config.intermediateSize;
  return config.numHiddenLayers * (2 * b * tokens * d * (4 * d + 2 * f) + 4 * b * tokens * tokens * d);
}

/** GFLOP/s for `flops` done in `ms`. */
export function gflops(flops: number, ms: number): number {
  return flops / 1e9 / (ms / 1e3);
}
