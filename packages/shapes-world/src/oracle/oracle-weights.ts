/**
 * Saves and loads the oracle as safetensors with PyTorch names and layouts (conv [out, in, 3, 3], linear
 * [out, in]), so the file reads like a `state_dict` of the same network in PyTorch. Node only (uses @erase/sd's
 * safetensors reader and writer).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError } from '@erase/core';
import { checkWeightKeys, readSafetensors, writeSafetensors, type TensorToWrite } from '@erase/sd';
import { CLASS_NAMES } from '../world/vocabulary';
import { OracleClassifier, oracleFileShapes } from './oracle-cnn';

/** `__metadata__.architecture` of an oracle file. */
export const ORACLE_ARCHITECTURE = 'shapes-world-oracle-cnn';

/** tfjs layout → PyTorch layout for one named tensor (conv kernel [kh, kw, in, out] → [out, in, kh, kw], linear [in, out] → [out, in]). */
function toTorchLayout(name: string, t: tf.Tensor): tf.Tensor {
  if (name.endsWith('conv.weight')) return tf.transpose(t, [3, 2, 0, 1]); // [kh, kw, in, out] -> [out, in, kh, kw]
  if (name === 'head.weight') return tf.transpose(t); // [in, out] -> [out, in]
  return tf.clone(t);
}

/** PyTorch layout → tfjs layout (the inverse of `toTorchLayout`). */
function fromTorchLayout(name: string, t: tf.Tensor): tf.Tensor {
  if (name.endsWith('conv.weight')) return tf.transpose(t, [2, 3, 1, 0]); // [out, in, kh, kw] -> [kh, kw, in, out]
  if (name === 'head.weight') return tf.transpose(t); // [out, in] -> [in, out]
  return tf.clone(t);
}

/**
 * Writes every tensor of `oracle` (running statistics included) to `path` atomically, as F32.
 * @param metadata extra `__metadata__` entries (strings), e.g. held-out accuracy.
 * @throws FileFormatError when the file cannot be written; InvalidOptionError for non-string metadata.
 */
export async function saveOracle(oracle: OracleClassifier, path: string, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, variable] of oracle.variables()) {
    const torch = toTorchLayout(name, variable);
    try {
      tensors.set(name, { dtype: 'F32', shape: torch.shape, data: (await torch.data()) as Float32Array });
    } finally {
      torch.dispose();
    }
  }
  writeSafetensors(path, tensors, {
    format: 'pt',
    architecture: ORACLE_ARCHITECTURE,
    class_names: JSON.stringify(oracle.classNames),
    ...metadata,
  });
}

/**
 * Loads an oracle saved by `saveOracle`. The caller owns the result (call `dispose()`).
 * @throws FileFormatError for a missing or malformed file, or one whose class names differ from the world's;
 *   WeightKeysError listing every missing, unexpected or wrongly shaped tensor.
 */
export function loadOracle(path: string): OracleClassifier {
  const file = readSafetensors(path);
  const classNames = file.metadata.class_names;
  if (classNames !== undefined && classNames !== JSON.stringify(CLASS_NAMES)) {
    throw new FileFormatError({ file: path, expected: `class_names ${JSON.stringify(CLASS_NAMES)}`, problem: `has class_names ${classNames}` });
  }
  checkWeightKeys(path, oracleFileShapes(), file.tensors);
  const variables = new Map<string, tf.Variable>();
  for (const [name, host] of file.tensors) {
    const trainable = !name.includes('running_');
    variables.set(
      name,
      tf.tidy(() => tf.variable(fromTorchLayout(name, tf.tensor(host.data, [...host.shape], 'float32')), trainable)),
    );
  }
  return OracleClassifier.fromVariables(variables);
}
