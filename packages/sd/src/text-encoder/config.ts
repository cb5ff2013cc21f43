/**
 * The CLIP text-encoder config (transformers `CLIPTextConfig`, 4.33), typed and camelCase.
 *
 * On disk the keys are snake_case (`hidden_size`); `camelizeConfig` converts them once, here. Missing keys take
 * transformers' defaults (the ViT-L/14 text tower of SD 1.x is the default *architecture*, except the sizes,
 * which follow `CLIPTextConfig.__init__`). Values are validated; a wrong one throws a typed error naming the key.
 */
import { InvalidOptionError, UnsupportedError } from '@erase/core';
import { MAX_REPEATED_LAYERS, camelizeConfig } from '../io/config';

/** Activations of the MLP: `quick_gelu(x) = x·σ(1.702x)` (OpenAI CLIP, SD 1.x) or exact `gelu` (erf; SD 2.x, SDXL). */
export type ClipHiddenAct = 'quick_gelu' | 'gelu';

/** A validated CLIP text config. Sizes are positive integers; `hiddenSize % numAttentionHeads === 0`. */
export interface ClipTextConfig {
  /** V, rows of the token-embedding table. */
  readonly vocabSize: number;
  /** D, the width of every hidden state. */
  readonly hiddenSize: number;
  /** F, the width of the MLP's hidden layer. */
  readonly intermediateSize: number;
  /** L, the number of encoder layers. */
  readonly numHiddenLayers: number;
  /** H, attention heads per layer (head width D/H). */
  readonly numAttentionHeads: number;
  /** T_max, rows of the position-embedding table (77 for SD). */
  readonly maxPositionEmbeddings: number;
  readonly hiddenAct: ClipHiddenAct;
  readonly layerNormEps: number;
  /** P, the width of `text_projection` (used only by CLIPTextModelWithProjection). */
  readonly projectionDim: number;
  readonly bosTokenId: number;
  /** 2 is the legacy value (pool at argmax(input_ids)); any other value pools at the first `eosTokenId`. */
  readonly eosTokenId: number;
  readonly padTokenId: number;
  /** `architectures` from config.json when present (e.g. `["CLIPTextModelWithProjection"]`). */
  readonly architectures: readonly string[];
}

/** transformers 4.33 `CLIPTextConfig.__init__` defaults. */
const defaults = {
  vocabSize: 49408,
  hiddenSize: 512,
  intermediateSize: 2048,
  numHiddenLayers: 12,
  numAttentionHeads: 8,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
  projectionDim: 512,
  bosTokenId: 49406,
  eosTokenId: 49407,
  padTokenId: 1,
} as const;

/**
 * Parses a CLIP text config (snake_case as in `config.json`, or camelCase) into a validated `ClipTextConfig`.
 * @param raw the parsed JSON object
 * @param source the file or object the config came from, named in errors
 * @throws InvalidOptionError for a missing-typed or out-of-range value (names the snake_case key and `source`)
 * @throws UnsupportedError for a `hidden_act` other than `quick_gelu` / `gelu`
 */
export function parseClipTextConfig(raw: Readonly<Record<string, unknown>>, source = 'CLIPTextConfig'): ClipTextConfig {
  const c = camelizeConfig(raw);
  const positiveInt = (key: keyof typeof defaults, snake: string): number => {
    const value = c[key] ?? defaults[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw invalid(source, snake, 'a positive integer', value);
    }
    return value;
  };
  const tokenId = (key: 'bosTokenId' | 'eosTokenId' | 'padTokenId', snake: string): number => {
    const value = c[key] ?? defaults[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw invalid(source, snake, 'a non-negative integer', value);
    }
    return value;
  };
  const hiddenSize = positiveInt('hiddenSize', 'hidden_size');
  const layerCount = positiveInt('numHiddenLayers', 'num_hidden_layers');
  if (layerCount > MAX_REPEATED_LAYERS) throw invalid(source, 'num_hidden_layers', `a positive integer up to ${MAX_REPEATED_LAYERS}`, layerCount);
  const numAttentionHeads = positiveInt('numAttentionHeads', 'num_attention_heads');
  if (hiddenSize % numAttentionHeads !== 0) {
    throw invalid(source, 'num_attention_heads', `a divisor of hidden_size ${hiddenSize}`, numAttentionHeads);
  }
  const hiddenAct = c.hiddenAct ?? defaults.hiddenAct;
  if (hiddenAct !== 'quick_gelu' && hiddenAct !== 'gelu') {
    throw new UnsupportedError(
      `${source}: hidden_act ${JSON.stringify(hiddenAct)} is not supported; the CLIP text encoder supports "quick_gelu" and "gelu".`,
    );
  }
  const layerNormEps = c.layerNormEps ?? defaults.layerNormEps;
  if (typeof layerNormEps !== 'number' || !(layerNormEps > 0) || !Number.isFinite(layerNormEps)) {
    throw invalid(source, 'layer_norm_eps', 'a positive finite number', layerNormEps);
  }
  const architectures = c.architectures ?? [];
  if (!Array.isArray(architectures) || architectures.some((a) => typeof a !== 'string')) {
    throw invalid(source, 'architectures', 'an array of class names', architectures);
  }
  return {
    vocabSize: positiveInt('vocabSize', 'vocab_size'),
    hiddenSize,
    intermediateSize: positiveInt('intermediateSize', 'intermediate_size'),
    numHiddenLayers: layerCount,
    numAttentionHeads,
    maxPositionEmbeddings: positiveInt('maxPositionEmbeddings', 'max_position_embeddings'),
    hiddenAct,
    layerNormEps,
    projectionDim: positiveInt('projectionDim', 'projection_dim'),
    bosTokenId: tokenId('bosTokenId', 'bos_token_id'),
    eosTokenId: tokenId('eosTokenId', 'eos_token_id'),
    padTokenId: tokenId('padTokenId', 'pad_token_id'),
    architectures: architectures as string[],
  };
}

function invalid(source: string, key: string, expected: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError({
    option: key,
    expected,
    received,
    message: `${source}: invalid \`${key}\`: expected ${expected}, received ${JSON.stringify(received)}.`,
  });
}
