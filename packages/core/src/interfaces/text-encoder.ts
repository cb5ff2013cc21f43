import type * as tf from '@tensorflow/tfjs-core';

/**
 * Prompts after tokenization. Every row has exactly `maxLength` ids (padded or truncated).
 *
 * Shapes: `inputIds` [B][T], `attentionMask` [B][T] with 1 over `<bos> … <eos>` and 0 over padding,
 * `lengths[b]` = the number of real tokens of row b including `<bos>` and `<eos>` (= sum of its mask).
 */
export interface TokenizedBatch {
  readonly inputIds: readonly (readonly number[])[];
  readonly attentionMask: readonly (readonly number[])[];
  readonly lengths: readonly number[];
}

/**
 * A text encoder: prompts → token ids → hidden states. Implemented by `@erase/sd`'s CLIP text model.
 *
 * Notation (methods.md): an output row `E` ∈ ℝ^{T×D}; one of its token vectors is `c` (or `e`).
 */
export interface TextEncoder {
  /** D, the width of each output token vector. */
  readonly hiddenSize: number;
  /** T, the fixed context length every prompt is padded/truncated to (77 for SD). */
  readonly maxLength: number;
  /** V, the number of rows of the token-embedding table. */
  readonly vocabSize: number;

  /** Tokenizes prompts, padding and truncating each to `maxLength`. */
  tokenize(prompts: readonly string[]): TokenizedBatch;

  /**
   * Hidden states for token ids: `inputIds` int32 [B, T] → float32 [B, T, D] (the last hidden state,
   * after the final layer norm — what SD feeds the UNet). The caller owns the result; the input is not disposed.
   */
  encode(inputIds: tf.Tensor2D): tf.Tensor3D;

  /** Tokenizes and encodes: prompts → float32 [B, T, D]. The caller owns the result. */
  encodePrompts(prompts: readonly string[]): tf.Tensor3D;

  /**
   * The token-embedding table, float32 [V, D_embed]. Owned by the encoder: do not dispose or modify it.
   * Used for vocabulary search (nearest words to a concept).
   */
  tokenEmbeddings(): tf.Tensor2D;

  /** The vocabulary as token string → id (BPE tokens; `</w>` marks a word end). */
  vocabulary(): ReadonlyMap<string, number>;
}
