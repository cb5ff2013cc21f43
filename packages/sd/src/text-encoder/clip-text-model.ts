/**
 * The CLIP text transformer (transformers 4.33 `CLIPTextModel`, optionally `CLIPTextModelWithProjection`) on tfjs.
 *
 * Notation (Radford et al. 2021; transformers names in brackets):
 *   B batch, T tokens (≤ T_max), D hiddenSize, L layers, V vocabulary
 *   h⁰ = E_tok[ids] + E_pos[0..T−1]                       [embeddings]              [B, T, D]
 *   hˡ = h' + MLP(LN₂(h')),  h' = hˡ⁻¹ + Attn(LN₁(hˡ⁻¹))  pre-LN layer l = 1..L   [encoder.layers.{l−1}]
 *   MLP(x) = act(x W₁ + b₁) W₂ + b₂, act = quick_gelu | gelu                           [mlp.fc1, mlp.fc2]
 *   last = LN_f(hᴸ)                                       [final_layer_norm]       [B, T, D]
 *   pooled_b = last_b[p_b], p_b = argmax_t ids_bt when eos_token_id = 2 (legacy), else the first t with ids_bt = eos
 *   text_embeds = pooled W_proj                           [text_projection]        [B, P]
 *   hidden_states = (h⁰, h¹, …, hᴸ)  (hᴸ before LN_f);  clip skip k: LN_f(h^{L−k})  (diffusers encode_prompt)
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { loadPretrainedComponent, type PretrainedOptions } from '../io/pretrained';
import type { HostTensor } from '../io/safetensors';
import { checkWeightKeys } from '../io/weight-keys';
import { activation } from '../nn/activations';
import { linearModule } from '../nn/linear';
import { layerNormModule } from '../nn/norm';
import { mapWeights, tensorToTorch, type ModuleWeights } from '../nn/weights';
import { clipCausalSelfAttention } from './clip-attention';
import { clipIgnoredKeys, clipLayoutOf, clipTextWeightShapes, clipWeightToVariable, textProjectionKey, type ClipWeightInput } from './clip-weights';
import { parseClipTextConfig, type ClipTextConfig } from './config';

/** Options of `CLIPTextModel.fromWeights` / `fromPretrained`. */
export interface ClipLoadOptions {
  /** Named in errors; default 'CLIPTextModel weights' (fromPretrained: the safetensors path). */
  readonly source?: string;
  /** Make the weights trainable (optimizers' default var list); default false (frozen). */
  readonly trainable?: boolean;
}

/** Options of `CLIPTextModel.forward`. */
export interface ClipForwardOptions {
  /** Also return every hidden state h⁰ … hᴸ (transformers `output_hidden_states`). Default false. */
  readonly outputHiddenStates?: boolean;
  /**
   * Check on the host that every id is in [0, V) and throw `InvalidOptionError` otherwise (reads the int32 ids
   * with `dataSync`, which does not touch the gradient tape). Default true; pass false to skip the read.
   */
  readonly validateIds?: boolean;
}

/** Options of `CLIPTextModel.encode`. */
export interface ClipEncodeOptions {
  /** Skip the last k layers: return LN_f(h^{L−k}) (diffusers `clip_skip`). Integer in [0, L]; default 0. */
  readonly clipSkip?: number;
  /** See `ClipForwardOptions.validateIds`. */
  readonly validateIds?: boolean;
}

/** What `forward` returns; the caller owns every tensor. */
export interface ClipTextOutput {
  /** LN_f(hᴸ), float32 [B, T, D]. */
  readonly lastHiddenState: tf.Tensor3D;
  /** The last hidden state at the pooled position of each row, float32 [B, D]. */
  readonly poolerOutput: tf.Tensor2D;
  /** pooled · W_proj, float32 [B, P]; only for a model loaded with `text_projection`. */
  readonly textEmbeds?: tf.Tensor2D;
  /** (h⁰ … hᴸ), L+1 tensors float32 [B, T, D]; only with `outputHiddenStates`. */
  readonly hiddenStates?: readonly tf.Tensor3D[];
}

/**
 * CLIP text encoder. Weights are `tf.Variable`s keyed by transformers state_dict names (`parameters()`), stored
 * channels-last (Linear [in, out]). Every method is differentiable with respect to the weights (except the
 * token-embedding table on wasm: the gather's gradient needs `UnsortedSegmentSum`, which tfjs-wasm lacks) and
 * leaves no tensors behind.
 */
export class CLIPTextModel {
  /** The validated config. */
  readonly config: ClipTextConfig;
  /** True when the model holds `text_projection` (CLIPTextModelWithProjection); `forward` then returns `textEmbeds`. */
  readonly hasProjection: boolean;
  private readonly params: Map<string, tf.Variable>;
  /** Name-keyed view of `params` the layers read from. */
  private readonly weights: ModuleWeights;
  private disposed = false;

  private constructor(config: ClipTextConfig, params: Map<string, tf.Variable>, hasProjection: boolean, source: string) {
    this.config = config;
    this.params = params;
    this.hasProjection = hasProjection;
    this.weights = mapWeights(params, source);
  }

  /**
   * Builds a model from a config (snake_case JSON or a `ClipTextConfig`) and weights keyed by transformers names in
   * the PyTorch layout. `text_projection.weight` is expected when `architectures` names
   * CLIPTextModelWithProjection, otherwise it is used when present. `text_model.embeddings.position_ids` is ignored.
   * The weights are copied; the caller keeps ownership of `weights`.
   * @throws WeightKeysError listing every missing, unexpected and wrongly shaped key
   * @throws InvalidOptionError / UnsupportedError for a bad config; FileFormatError for non-float weights
   */
  static fromWeights(
    config: ClipTextConfig | Readonly<Record<string, unknown>>,
    weights: ReadonlyMap<string, ClipWeightInput>,
    options: ClipLoadOptions = {},
  ): CLIPTextModel {
    const source = options.source ?? 'CLIPTextModel weights';
    const parsed = parseClipTextConfig(config as Readonly<Record<string, unknown>>, source);
    const withProjection =
      parsed.architectures.includes('CLIPTextModelWithProjection') ||
      (!parsed.architectures.includes('CLIPTextModel') && weights.has(textProjectionKey));
    const expected = clipTextWeightShapes(parsed, withProjection);
    checkWeightKeys(source, expected, weights, { ignore: clipIgnoredKeys });
    const params = new Map<string, tf.Variable>();
    try {
      for (const key of expected.keys()) {
        const weight = weights.get(key) as ClipWeightInput;
        params.set(key, clipWeightToVariable(key, weight, source, options.trainable ?? false)); // tfjs layout
      }
    } catch (error) {
      for (const v of params.values()) v.dispose();
      throw error;
    }
    return new CLIPTextModel(parsed, params, withProjection, source);
  }

  /**
   * Loads `config.json` and `model[.variant].safetensors` (or sharded weights) from a transformers folder (e.g. an SD
   * checkpoint's `text_encoder/`); `options.backend` selects the tfjs backend first.
   * @throws FileFormatError when a file is missing or malformed; UnsupportedError for a `.bin`-only folder;
   *   WeightKeysError when the weights do not match the config
   */
  static async fromPretrained(dir: string, options: ClipLoadOptions & PretrainedOptions = {}): Promise<CLIPTextModel> {
    const parse = (raw: Record<string, unknown>): ClipTextConfig => parseClipTextConfig(raw, join(dir, 'config.json'));
    const loaded = await loadPretrainedComponent(dir, options, parse); // the config is checked before weights are read
    const config = parse(loaded.config);
    return CLIPTextModel.fromWeights(config, loaded.weights, { ...options, source: options.source ?? loaded.files[0] });
  }

  /** D, the width of each output token vector. */
  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  /** T_max, the longest input (77 for SD). */
  get maxLength(): number {
    return this.config.maxPositionEmbeddings;
  }

  /** V, rows of the token-embedding table. */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /**
   * Runs the transformer. `inputIds` int32 [B, T] with 1 ≤ T ≤ T_max and ids in [0, V).
   * Differentiable; the caller owns every returned tensor; the input is not disposed.
   * @throws ShapeMismatchError / InvalidOptionError for a bad `inputIds`
   */
  forward(inputIds: tf.Tensor2D, options: ClipForwardOptions = {}): ClipTextOutput {
    this.checkInput(inputIds, options.validateIds ?? true);
    const keepAll = options.outputHiddenStates ?? false;
    const result = tf.tidy(() => {
      const hidden = this.hiddenStatesUpTo(inputIds, this.config.numHiddenLayers, keepAll); // (L+1 or 1) × [B, T, D]
      const top = hidden[hidden.length - 1] as tf.Tensor3D; // hᴸ [B, T, D]
      const last = this.finalLayerNorm(top); // [B, T, D]
      const pooled = this.pool(last, inputIds); // [B, D]
      const out: tf.Tensor[] = [last, pooled];
      if (this.hasProjection) out.push(linearModule(this.weights, 'text_projection', pooled)); // [B, D] x [D, P] -> [B, P]
      return keepAll ? [...out, ...hidden] : out;
    });
    const [lastHiddenState, poolerOutput] = result as [tf.Tensor3D, tf.Tensor2D];
    const rest = result.slice(this.hasProjection ? 3 : 2) as tf.Tensor3D[];
    return {
      lastHiddenState,
      poolerOutput,
      ...(this.hasProjection ? { textEmbeds: result[2] as tf.Tensor2D } : {}),
      ...(keepAll ? { hiddenStates: rest } : {}),
    };
  }

  /**
   * The hidden states SD feeds the UNet: LN_f(h^{L−k}) for clip skip k (k = 0: `lastHiddenState`).
   * `inputIds` int32 [B, T] → float32 [B, T, D]. Runs only the first L−k layers. The caller owns the result.
   * @throws InvalidOptionError for a `clipSkip` outside [0, L]; ShapeMismatchError for a bad `inputIds`
   */
  encode(inputIds: tf.Tensor2D, options: ClipEncodeOptions = {}): tf.Tensor3D {
    const clipSkip = options.clipSkip ?? 0;
    const layers = this.config.numHiddenLayers;
    if (!Number.isInteger(clipSkip) || clipSkip < 0 || clipSkip > layers) {
      throw new InvalidOptionError({ option: 'clipSkip', expected: `an integer in [0, ${layers}]`, received: clipSkip });
    }
    this.checkInput(inputIds, options.validateIds ?? true);
    return tf.tidy(() => {
      const hidden = this.hiddenStatesUpTo(inputIds, layers - clipSkip, false); // [h^{L−k}]
      return this.finalLayerNorm(hidden[0] as tf.Tensor3D); // [B, T, D]
    });
  }

  /** The token-embedding table float32 [V, D]. Owned by the model: do not dispose or modify it. */
  tokenEmbeddings(): tf.Tensor2D {
    this.assertLive();
    return this.weights.get('text_model.embeddings.token_embedding.weight') as tf.Tensor2D;
  }

  /**
   * Every weight as a `tf.Variable` keyed by its transformers name, in the tfjs layout (Linear weights [in, out]).
   * Frozen unless loaded with `trainable` (set `variable.trainable = true` to train one). Owned by the model: do not
   * dispose them.
   */
  parameters(): ReadonlyMap<string, tf.Variable> {
    this.assertLive();
    return this.params;
  }

  /**
   * The weights as host tensors in the PyTorch layout (Linear [out, in]), keyed by transformers names, ready for a
   * safetensors writer. Reads every weight synchronously; allocates no tfjs tensors.
   */
  exportWeights(): Map<string, HostTensor> {
    this.assertLive();
    const out = new Map<string, HostTensor>();
    for (const [key, value] of this.params) out.set(key, tensorToTorch(value, clipLayoutOf(key)));
    return out;
  }

  /** Frees every weight. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
  }

  /** h⁰ … h^{layers}; with `keepAll` false only the last one. Runs inside the caller's tidy. */
  private hiddenStatesUpTo(inputIds: tf.Tensor2D, layers: number, keepAll: boolean): tf.Tensor3D[] {
    const [, tokens] = inputIds.shape;
    const { layerNormEps: eps, numAttentionHeads: heads } = this.config;
    const w = this.weights;
    const tokenTable = w.get('text_model.embeddings.token_embedding.weight'); // [V, D]
    const positionTable = w.get('text_model.embeddings.position_embedding.weight'); // [T_max, D]
    const tokenEmbeds = tf.gather(tokenTable, inputIds); // [B, T] -> [B, T, D]
    const positionEmbeds = tf.slice(positionTable, [0, 0], [tokens, -1]); // positions 0..T−1: [T, D]
    let h = tf.add(tokenEmbeds, positionEmbeds) as tf.Tensor3D; // [B, T, D] + [T, D] -> [B, T, D]
    const states: tf.Tensor3D[] = [h];
    const act = activation(this.config.hiddenAct, 'hidden_act');
    for (let l = 0; l < layers; l++) {
      const p = `text_model.encoder.layers.${l}`;
      const normed1 = layerNormModule(w, `${p}.layer_norm1`, h, eps) as tf.Tensor3D; // [B, T, D]
      const attended = tf.add(h, clipCausalSelfAttention(w, `${p}.self_attn`, normed1, heads)) as tf.Tensor3D; // [B, T, D]
      const normed2 = layerNormModule(w, `${p}.layer_norm2`, attended, eps); // [B, T, D]
      const inner = act(linearModule(w, `${p}.mlp.fc1`, normed2)); // [B, T, D] x [D, F] -> [B, T, F]
      h = tf.add(attended, linearModule(w, `${p}.mlp.fc2`, inner)) as tf.Tensor3D; // [B, T, F] x [F, D] -> [B, T, D]
      states.push(h);
    }
    return keepAll ? states : [h];
  }

  /** LN_f(h), h [B, T, D] → [B, T, D]. */
  private finalLayerNorm(h: tf.Tensor3D): tf.Tensor3D {
    return layerNormModule(this.weights, 'text_model.final_layer_norm', h, this.config.layerNormEps) as tf.Tensor3D;
  }

  /** last[b, p_b] for the pooled positions p (see the notation block), as a one-hot matMul (differentiable on wasm). */
  private pool(last: tf.Tensor3D, inputIds: tf.Tensor2D): tf.Tensor2D {
    const [batch, tokens, width] = last.shape;
    const positions =
      this.config.eosTokenId === 2
        ? tf.argMax(inputIds, -1) // legacy: first occurrence of the largest id, [B]
        : tf.argMax(tf.cast(tf.equal(inputIds, this.config.eosTokenId), 'int32'), -1); // first eos (0 if none), [B]
    // One-hot rows built with equal (tfjs-wasm's OneHot ignores a float32 dtype and writes int32 bits).
    const hits = tf.equal(tf.reshape(positions, [batch, 1]), tf.range(0, tokens, 1, 'int32')); // [B, 1] == [T] -> [B, T]
    const selector = tf.reshape(tf.cast(hits, 'float32'), [batch, 1, tokens]); // [B, 1, T]
    return tf.reshape(tf.matMul(selector, last), [batch, width]); // [B, 1, T] x [B, T, D] -> [B, 1, D] -> [B, D]
  }

  private checkInput(inputIds: tf.Tensor2D, validateIds: boolean): void {
    this.assertLive();
    const tMax = this.config.maxPositionEmbeddings;
    if (inputIds.rank !== 2 || inputIds.shape[0] < 1 || inputIds.shape[1] < 1 || inputIds.shape[1] > tMax) {
      throw new ShapeMismatchError({ what: `CLIPTextModel inputIds (T at most ${tMax})`, expected: [null, null], received: inputIds.shape });
    }
    if (inputIds.dtype !== 'int32') {
      throw new InvalidOptionError({ option: 'inputIds', expected: 'an int32 tensor', received: `a ${inputIds.dtype} tensor` });
    }
    if (!validateIds) return;
    const ids = inputIds.dataSync();
    const vocab = this.config.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < 0 || id >= vocab) {
        throw new InvalidOptionError({ option: 'inputIds', expected: `token ids in [0, ${vocab})`, received: id });
      }
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new InvalidOptionError({ option: 'CLIPTextModel', expected: 'a model that is not disposed', received: 'disposed' });
  }
}
