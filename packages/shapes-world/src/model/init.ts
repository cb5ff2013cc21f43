/**
 * Seeded random initialisation of the world's text encoder and UNet, as PyTorch's defaults would make them, in
 * PyTorch layouts (host arrays ready for `fromWeights`).
 *
 * Notation: a weight W of PyTorch shape [out, in, …] has fan_in = in · kh · kw.
 *   Linear / Conv2d weights  W ~ U(−1/√fan_in, 1/√fan_in)   (kaiming_uniform with a = √5, PyTorch's default)
 *   biases                   0
 *   LayerNorm / GroupNorm    γ = 1, β = 0
 *   CLIP token and position embeddings  ~ N(0, 0.02²)       (transformers' `initializer_range`)
 * Values are drawn from one `Rng(seed)` in the expected-shape order of each model, so they depend only on the
 * seed and the config, never on the backend.
 */
import { Rng } from '@erase/core';
import { CLIPTextModel, clipTextWeightShapes, parseClipTextConfig, parseUNetConfig, UNet2DConditionModel, type HostTensor } from '@erase/sd';

/** Options of the init functions. */
export interface InitOptions {
  /** Seed of the draws (a safe integer). */
  readonly seed: number;
  /** Make the weights trainable (default true). */
  readonly trainable?: boolean;
}

/**
 * Host weights for a PyTorch-default init of the given shapes.
 * @param isEmbedding keys drawn from N(0, 0.02²)
 */
export function initHostWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number, isEmbedding: (key: string) => boolean = () => false): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [key, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (isEmbedding(key)) {
      for (let i = 0; i < size; i++) data[i] = 0.02 * rng.normal();
    } else if (key.endsWith('.bias')) {
      // zeros
    } else if (shape.length === 1) {
      data.fill(1); // norm γ
    } else {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < size; i++) data[i] = (2 * rng.uniform() - 1) * bound;
    }
    out.set(key, { dtype: 'float32', fileDtype: 'F32', shape: [...shape], data });
  }
  return out;
}

/**
 * A freshly initialised CLIPTextModel for `config` (snake_case config.json content). The caller owns it.
 * @throws InvalidOptionError / UnsupportedError for a bad config
 */
export function initTextEncoder(config: Readonly<Record<string, unknown>>, options: InitOptions): CLIPTextModel {
  const parsed = parseClipTextConfig(config, 'text_encoder config');
  const shapes = clipTextWeightShapes(parsed, false);
  const weights = initHostWeights(shapes, options.seed, (key) => key.includes('embeddings.'));
  return CLIPTextModel.fromWeights(parsed, weights, { trainable: options.trainable ?? true, source: 'shapes-world text encoder (fresh init)' });
}

/**
 * A freshly initialised UNet2DConditionModel for `config` (snake_case config.json content). The caller owns it.
 * @throws InvalidOptionError / UnsupportedError for a bad config
 */
export function initUNet(config: Readonly<Record<string, unknown>>, options: InitOptions): UNet2DConditionModel {
  const parsed = parseUNetConfig(config, 'unet config');
  const weights = initHostWeights(UNet2DConditionModel.expectedWeightShapes(parsed), options.seed);
  return UNet2DConditionModel.fromWeights(parsed, weights, { trainable: options.trainable ?? true, source: 'shapes-world UNet (fresh init)' });
}
