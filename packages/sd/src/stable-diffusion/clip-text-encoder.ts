/**
 * core's `TextEncoder` for Stable Diffusion: the CLIP tokenizer and the CLIP text model together.
 *
 * Notation (methods.md): a prompt → ids [T] (padded to T = 77 with the pad token) → E = LN_f(h^{L−k}) [T, D],
 * k = `clipSkip` (0 = the last hidden state, what SD 1.x feeds its UNet).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, type TextEncoder, type TokenizedBatch } from '@erase/core';
import type { CLIPTextModel } from '../text-encoder/clip-text-model';
import type { CLIPTokenizer } from '../tokenizer/clip-tokenizer';

/** Options of `ClipTextEncoder`. */
export interface ClipTextEncoderOptions {
  /** Skip the last k transformer layers (diffusers `clip_skip`); default 0. */
  readonly clipSkip?: number;
}

/** Tokenizer + CLIP text model as one `TextEncoder`. Does not own either part: dispose them yourself. */
export class ClipTextEncoder implements TextEncoder {
  readonly clipSkip: number;

  constructor(
    readonly tokenizer: CLIPTokenizer,
    readonly model: CLIPTextModel,
    options: ClipTextEncoderOptions = {},
  ) {
    this.clipSkip = options.clipSkip ?? 0;
    if (!Number.isInteger(this.clipSkip) || this.clipSkip < 0) {
      throw new InvalidOptionError({ option: 'clipSkip', expected: 'an integer ≥ 0', received: options.clipSkip });
    }
    if (tokenizer.modelMaxLength > model.maxLength) {
      throw new InvalidOptionError({
        option: 'tokenizer',
        expected: `a context length ≤ the text model's ${model.maxLength} positions`,
        received: tokenizer.modelMaxLength,
      });
    }
  }

  get hiddenSize(): number {
    return this.model.hiddenSize;
  }

  /** T: the tokenizer's `model_max_length` (77 for SD). */
  get maxLength(): number {
    return this.tokenizer.modelMaxLength;
  }

  get vocabSize(): number {
    return this.model.vocabSize;
  }

  tokenize(prompts: readonly string[]): TokenizedBatch {
    const out = this.tokenizer.call([...prompts], { padding: 'max_length', maxLength: this.maxLength, truncation: true });
    return { inputIds: out.inputIds, attentionMask: out.attentionMask, lengths: out.lengths };
  }

  encode(inputIds: tf.Tensor2D): tf.Tensor3D {
    return this.model.encode(inputIds, { clipSkip: this.clipSkip }); // [B, T] -> [B, T, D]
  }

  encodePrompts(prompts: readonly string[]): tf.Tensor3D {
    const { inputIds } = this.tokenize(prompts);
    const ids = tf.tensor2d(inputIds.map((row) => [...row]), [inputIds.length, this.maxLength], 'int32'); // [B, T]
    try {
      return this.encode(ids); // [B, T, D]
    } finally {
      ids.dispose();
    }
  }

  tokenEmbeddings(): tf.Tensor2D {
    return this.model.tokenEmbeddings(); // [V, D]
  }

  vocabulary(): ReadonlyMap<string, number> {
    return this.tokenizer.vocab;
  }
}
