/**
 * Prompts → text-encoder outputs on the host, with the token counts the official UCE code reads from the
 * tokenizer's attention mask.
 *
 * Notation (methods.md): a prompt p encodes to E ∈ ℝ^{T×D} (the last hidden state, T = 77 and D = 768 for
 * SD 1.x); `tokenCount` = Σ attention_mask = the number of real tokens including `<bos>` and `<eos>`, so the
 * prompt's last word token sits at index `tokenCount − 2` (UCE's `final_token_idx`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError, throwIfAborted, type TextEncoder } from '@erase/core';

/** One encoded prompt. `hidden` is row-major float32 [T, D]. */
export interface EncodedPrompt {
  readonly prompt: string;
  /** Σ attention_mask: real tokens including `<bos>`/`<eos>` (2 for `''`). */
  readonly tokenCount: number;
  /** E, float32 [T, D] row-major. */
  readonly hidden: Float32Array;
}

/** Encoded prompts keyed by prompt text (duplicates encoded once). */
export interface PromptTable {
  /** T. */
  readonly length: number;
  /** D. */
  readonly width: number;
  readonly prompts: ReadonlyMap<string, EncodedPrompt>;
}

/** Options of `encodePromptTable`. */
export interface EncodePromptOptions {
  /** Prompts per `encode` call (default 8): bounds the memory of large preserve lists. */
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
}

/**
 * Tokenizes and encodes every distinct prompt once, reading the outputs to the host (float32).
 * No tensor is left behind.
 * @throws InvalidOptionError when the encoder's tokenization has fewer than 2 real tokens (no `<bos>`/`<eos>`,
 *   which UCE's token selection needs) or a malformed mask; ShapeMismatchError when `encode` returns a shape
 *   other than [B, T, D]; AbortedError on abort.
 */
export async function encodePromptTable(
  encoder: TextEncoder,
  prompts: readonly string[],
  options: EncodePromptOptions = {},
): Promise<PromptTable> {
  const length = encoder.maxLength; // T
  const width = encoder.hiddenSize; // D
  const distinct = [...new Set(prompts)];
  const chunkSize = options.chunkSize ?? 8;
  const table = new Map<string, EncodedPrompt>();
  for (let start = 0; start < distinct.length; start += chunkSize) {
    throwIfAborted(options.signal, 'encoding prompts');
    const chunk = distinct.slice(start, start + chunkSize);
    const tokens = encoder.tokenize(chunk);
    const counts = chunk.map((prompt, b) => tokenCount(prompt, tokens.attentionMask[b], tokens.inputIds[b], length));
    const ids = tf.tensor2d(tokens.inputIds.map((row) => [...row]), [chunk.length, length], 'int32'); // [B, T]
    let hidden: tf.Tensor3D | undefined;
    try {
      hidden = encoder.encode(ids); // [B, T] -> [B, T, D]
      if (hidden.rank !== 3 || hidden.shape[0] !== chunk.length || hidden.shape[1] !== length || hidden.shape[2] !== width) {
        throw new ShapeMismatchError({ what: 'text encoder output [B, T, D]', expected: [chunk.length, length, width], received: hidden.shape });
      }
      const data = (await hidden.data()) as Float32Array; // [B·T·D]
      chunk.forEach((prompt, b) => {
        table.set(prompt, {
          prompt,
          tokenCount: counts[b] as number,
          hidden: Float32Array.from(data.subarray(b * length * width, (b + 1) * length * width)), // [T, D]
        });
      });
    } finally {
      ids.dispose();
      hidden?.dispose();
    }
  }
  return { length, width, prompts: table };
}

/** Looks a prompt up. @throws InvalidOptionError when it was not encoded (a bug in the caller). */
export function encodedPrompt(table: PromptTable, prompt: string): EncodedPrompt {
  const found = table.prompts.get(prompt);
  if (!found) throw new InvalidOptionError({ option: 'prompt', expected: 'a prompt that was encoded', received: prompt });
  return found;
}

function tokenCount(prompt: string, mask: readonly number[] | undefined, ids: readonly number[] | undefined, length: number): number {
  if (!mask || mask.length !== length || !ids || ids.length !== length) {
    throw new ShapeMismatchError({ what: `tokenization of ${JSON.stringify(prompt)} (ids and attention mask)`, expected: [length], received: [mask?.length ?? 0] });
  }
  const count = mask.reduce((sum, m) => sum + m, 0);
  if (!Number.isInteger(count) || count < 2 || count > length) {
    throw new InvalidOptionError({
      option: 'model.textEncoder',
      expected: `a tokenizer whose attention mask covers <bos> … <eos> (2 to ${length} tokens), as UCE's token selection reads it`,
      received: `a mask summing to ${count} for ${JSON.stringify(prompt)}`,
    });
  }
  return count;
}
