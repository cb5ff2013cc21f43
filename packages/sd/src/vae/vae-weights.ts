/**
 * AutoencoderKL weight names (diffusers 0.25.1 state_dict), the expected PyTorch-layout shapes, and the key map for
 * older attention names.
 *
 * Layouts (see `nn/weights`): Conv2d [out, in, kh, kw] → [kh, kw, in, out]; the attention Linears [out, in] →
 * [in, out]; norms and biases as is. Every rank-4 tensor is a conv and every rank-2 tensor a Linear here.
 *
 * Attention names: current diffusers `attentions.0.{to_q, to_k, to_v, to_out.0}`; diffusers < 0.14 wrote
 * `attentions.0.{query, key, value, proj_attn}` (SD 1.x's published VAE still has them) — remapped here, and a
 * 1×1-conv-shaped [C, C, 1, 1] attention weight is accepted as the Linear [C, C] it is.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError } from '@erase/core';
import type { HostTensor } from '../io/safetensors';
import { addResnetBlock2dShapes } from '../nn/resnet-block';
import { addConv2dShapes, addLinearShapes, addNormShapes, type WeightShapes } from '../nn/weights';
import type { AutoencoderKLConfig } from './config';

/** A weight as given to `fromWeights`: a host tensor from `readSafetensors`, or a tfjs tensor (not disposed). */
export type VaeWeightInput = HostTensor | tf.Tensor;

/** Every weight the model expects, key → PyTorch-layout shape, in state_dict order. */
export function autoencoderKLWeightShapes(config: AutoencoderKLConfig): WeightShapes {
  const shapes: WeightShapes = new Map();
  const channels = config.blockOutChannels;
  const levels = channels.length;
  const top = channels[levels - 1] as number;
  const z = config.latentChannels;

  // Encoder: conv_in, down blocks (resnets + downsampler), mid block, conv_norm_out, conv_out (2·C_z: mean and logvar).
  addConv2dShapes(shapes, 'encoder.conv_in', config.inChannels, channels[0] as number, 3);
  let previous = channels[0] as number;
  for (let i = 0; i < levels; i++) {
    const out = channels[i] as number;
    for (let j = 0; j < config.layersPerBlock; j++) {
      addResnetBlock2dShapes(shapes, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? previous : out, out);
    }
    if (i < levels - 1) addConv2dShapes(shapes, `encoder.down_blocks.${i}.downsamplers.0.conv`, out, out, 3);
    previous = out;
  }
  addMidBlockShapes(shapes, 'encoder.mid_block', top, config.midBlockAddAttention);
  addNormShapes(shapes, 'encoder.conv_norm_out', top);
  addConv2dShapes(shapes, 'encoder.conv_out', top, 2 * z, 3);

  if (config.useQuantConv) addConv2dShapes(shapes, 'quant_conv', 2 * z, 2 * z, 1);
  if (config.usePostQuantConv) addConv2dShapes(shapes, 'post_quant_conv', z, z, 1);

  // Decoder: conv_in, mid block, up blocks over reversed channels (layersPerBlock + 1 resnets each), norm, conv_out.
  addConv2dShapes(shapes, 'decoder.conv_in', z, top, 3);
  addMidBlockShapes(shapes, 'decoder.mid_block', top, config.midBlockAddAttention);
  const reversed = [...channels].reverse();
  previous = reversed[0] as number;
  for (let i = 0; i < levels; i++) {
    const out = reversed[i] as number;
    for (let j = 0; j <= config.layersPerBlock; j++) {
      addResnetBlock2dShapes(shapes, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? previous : out, out);
    }
    if (i < levels - 1) addConv2dShapes(shapes, `decoder.up_blocks.${i}.upsamplers.0.conv`, out, out, 3);
    previous = out;
  }
  addNormShapes(shapes, 'decoder.conv_norm_out', channels[0] as number);
  addConv2dShapes(shapes, 'decoder.conv_out', channels[0] as number, config.outChannels, 3);
  return shapes;
}

/** UNetMidBlock2D of the VAE: resnets.0, attentions.0 (group_norm + single-head attention), resnets.1. */
function addMidBlockShapes(shapes: WeightShapes, path: string, channels: number, withAttention: boolean): void {
  addResnetBlock2dShapes(shapes, `${path}.resnets.0`, channels, channels);
  if (withAttention) {
    const attention = `${path}.attentions.0`;
    addNormShapes(shapes, `${attention}.group_norm`, channels);
    for (const projection of ['to_q', 'to_k', 'to_v', 'to_out.0']) addLinearShapes(shapes, `${attention}.${projection}`, channels, channels);
  }
  addResnetBlock2dShapes(shapes, `${path}.resnets.1`, channels, channels);
}

const legacyAttentionNames: Readonly<Record<string, string>> = {
  query: 'to_q',
  key: 'to_k',
  value: 'to_v',
  proj_attn: 'to_out.0',
};

/**
 * Renames the older attention keys (`attentions.N.{query,key,value,proj_attn}`) to the current ones and reshapes
 * 1×1-conv-shaped attention weights [C, C, 1, 1] to [C, C]. Other keys pass through. A legacy key whose target is
 * also present is kept under its old name, so `checkWeightKeys` reports it as unexpected. Returns a new map
 * (tensors are shared, not copied).
 */
export function remapLegacyVaeKeys(weights: ReadonlyMap<string, VaeWeightInput>): Map<string, VaeWeightInput> {
  const out = new Map<string, VaeWeightInput>();
  const pattern = /^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/;
  for (const [key, value] of weights) {
    const match = pattern.exec(key);
    const target = match ? `${match[1]}.${legacyAttentionNames[match[2] as string]}.${match[3]}` : key;
    out.set(target !== key && weights.has(target) ? key : target, value);
  }
  for (const [key, value] of out) {
    const s = value.shape;
    if (/\.attentions\.\d+\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(key) && s.length === 4 && s[2] === 1 && s[3] === 1) {
      out.set(key, reshapeWeight(value, [s[0] as number, s[1] as number]));
    }
  }
  return out;
}

/**
 * A weight as a float32 host tensor in the PyTorch layout (a tfjs input is read synchronously; load time only).
 * Same contract as the text encoder's `clipWeightToVariable` input handling.
 * @throws FileFormatError naming `source` and the key for a non-float weight
 */
export function vaeWeightToHost(key: string, weight: VaeWeightInput, source: string): HostTensor {
  const host = isHostTensor(weight);
  if (weight.dtype !== 'float32') {
    const stored = host ? weight.fileDtype : weight.dtype;
    throw new FileFormatError({ file: source, expected: 'floating-point weights', problem: `${key} is stored as ${stored}` });
  }
  return host ? weight : { dtype: 'float32', fileDtype: 'F32', shape: weight.shape, data: weight.dataSync() as Float32Array };
}

function reshapeWeight(weight: VaeWeightInput, shape: number[]): VaeWeightInput {
  if (weight.dtype !== 'float32') return weight; // left for vaeWeightToHost to reject
  return isHostTensor(weight) ? { ...weight, shape } : { dtype: 'float32', fileDtype: 'F32', shape, data: weight.dataSync() as Float32Array };
}

function isHostTensor(weight: VaeWeightInput): weight is HostTensor {
  return !(weight instanceof tf.Tensor) && (weight as Partial<HostTensor>).fileDtype !== undefined;
}
