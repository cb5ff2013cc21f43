/**
 * The CLIP text model's weight names and layouts (transformers state_dict names), and the one place where PyTorch
 * layouts become tfjs layouts and back.
 *
 * Layouts: Linear weights are [out, in] in PyTorch and [in, out] here (W = weightᵀ, so y = x·W + b); embeddings,
 * LayerNorm weights and all biases keep their layout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError } from '@erase/core';
import type { HostTensor } from '../io/safetensors';
import { variableFromTorch, type TorchLayout } from '../nn/weights';
import type { ClipTextConfig } from './config';

/** A weight as given to `fromWeights`: a host tensor from `readSafetensors`, or a tfjs tensor (not disposed). */
export type ClipWeightInput = HostTensor | tf.Tensor;

/** Keys a checkpoint may hold that the model does not use (the non-persistent `position_ids` buffer). */
export const clipIgnoredKeys: readonly RegExp[] = [/^text_model\.embeddings\.position_ids$/];

/** The key of `text_projection` (CLIPTextModelWithProjection), outside the `text_model.` prefix. */
export const textProjectionKey = 'text_projection.weight';

/**
 * Every weight the model expects, key → shape in the *PyTorch* layout, in state_dict order.
 * @param withProjection include `text_projection.weight` [P, D]
 */
export function clipTextWeightShapes(config: ClipTextConfig, withProjection: boolean): Map<string, number[]> {
  const { hiddenSize: d, intermediateSize: f, vocabSize: v, maxPositionEmbeddings: t } = config;
  const shapes = new Map<string, number[]>();
  shapes.set('text_model.embeddings.token_embedding.weight', [v, d]);
  shapes.set('text_model.embeddings.position_embedding.weight', [t, d]);
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
      shapes.set(`${p}.self_attn.${proj}.weight`, [d, d]);
      shapes.set(`${p}.self_attn.${proj}.bias`, [d]);
    }
    shapes.set(`${p}.layer_norm1.weight`, [d]);
    shapes.set(`${p}.layer_norm1.bias`, [d]);
    shapes.set(`${p}.mlp.fc1.weight`, [f, d]);
    shapes.set(`${p}.mlp.fc1.bias`, [f]);
    shapes.set(`${p}.mlp.fc2.weight`, [d, f]);
    shapes.set(`${p}.mlp.fc2.bias`, [d]);
    shapes.set(`${p}.layer_norm2.weight`, [d]);
    shapes.set(`${p}.layer_norm2.bias`, [d]);
  }
  shapes.set('text_model.final_layer_norm.weight', [d]);
  shapes.set('text_model.final_layer_norm.bias', [d]);
  if (withProjection) shapes.set(textProjectionKey, [config.projectionDim, d]);
  return shapes;
}

/** The layout of a checkpoint tensor: Linear weights are stored transposed ([in, out]); the rest as is. */
export function clipLayoutOf(key: string): TorchLayout {
  return /(_proj|\.fc1|\.fc2)\.weight$/.test(key) || key === textProjectionKey ? 'linear' : 'plain';
}

/**
 * A checkpoint tensor as a float32 `tf.Variable` (frozen unless `trainable`) in the tfjs layout (Linear weights [in, out]).
 * A tfjs input is read to the host first (load time only) and is not disposed.
 * @param source the file the weight came from, named in errors
 * @throws FileFormatError when a weight is not floating point
 */
export function clipWeightToVariable(key: string, weight: ClipWeightInput, source: string, trainable = false): tf.Variable {
  const fileDtype = isHostTensor(weight) ? weight.fileDtype : weight.dtype;
  if (weight.dtype !== 'float32') {
    throw new FileFormatError({ file: source, expected: 'floating-point weights', problem: `${key} is stored as ${fileDtype}` });
  }
  const host: HostTensor = isHostTensor(weight)
    ? weight
    : { dtype: 'float32', fileDtype: 'F32', shape: weight.shape, data: weight.dataSync() as Float32Array };
  return variableFromTorch(host, clipLayoutOf(key), trainable);
}

/** True for a `readSafetensors` host tensor (it carries the file's dtype), false for a tfjs tensor. */
export function isHostTensor(weight: ClipWeightInput): weight is HostTensor {
  return !(weight instanceof tf.Tensor) && (weight as Partial<HostTensor>).fileDtype !== undefined;
}
