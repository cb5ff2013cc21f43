/**
 * A fake `TextEncoder` for closed-form parity tests: every prompt encodes to fixed seeded outputs [T, D]
 * (N(0, 1) entries from core's Rng, seeded by the prompt text), and the attention mask is hand-made: by
 * default `<bos>` + one token per whitespace-separated word + `<eos>`; `tokenCounts` overrides it per prompt
 * (e.g. 77 for a truncated prompt). `''` and `' '` therefore both have 2 tokens but different outputs, so a
 * test can tell which of the two a method used.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type TextEncoder, type TokenizedBatch } from '@erase/core';

/** A stable 31-bit hash of a string. */
export function stringSeed(text: string, salt: number): number {
  let h = (2166136261 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h & 0x7fffffff;
}

export class SeededTextEncoder implements TextEncoder {
  readonly hiddenSize: number;
  readonly maxLength: number;
  readonly vocabSize = 8;
  private readonly seed: number;
  private readonly overrides: ReadonlyMap<string, number>;
  private readonly registry = new Map<string, number>();
  private readonly outputs: Float32Array[] = [];
  private table: tf.Tensor2D | undefined;

  constructor(options: { length: number; width: number; seed: number; tokenCounts?: ReadonlyMap<string, number> }) {
    this.maxLength = options.length;
    this.hiddenSize = options.width;
    this.seed = options.seed;
    this.overrides = options.tokenCounts ?? new Map();
  }

  /** The hand-made Σ mask of a prompt. */
  tokenCount(prompt: string): number {
    return this.overrides.get(prompt) ?? Math.min(prompt.split(/\s+/).filter(Boolean).length + 2, this.maxLength);
  }

  /** The fixed output of a prompt, float32 [T·D] row-major (what `encode` returns for it). */
  output(prompt: string): Float32Array {
    return this.outputs[this.register(prompt)] as Float32Array;
  }

  tokenize(prompts: readonly string[]): TokenizedBatch {
    const lengths = prompts.map((p) => this.tokenCount(p));
    const inputIds = prompts.map((p) => [this.register(p), ...new Array<number>(this.maxLength - 1).fill(0)]);
    const attentionMask = lengths.map((n) => Array.from({ length: this.maxLength }, (_, i) => (i < n ? 1 : 0)));
    return { inputIds, attentionMask, lengths };
  }

  encode(inputIds: tf.Tensor2D): tf.Tensor3D {
    const ids = inputIds.arraySync();
    const size = this.maxLength * this.hiddenSize;
    const data = new Float32Array(ids.length * size);
    ids.forEach((row, b) => data.set(this.outputs[row[0] as number] as Float32Array, b * size));
    return tf.tensor3d(data, [ids.length, this.maxLength, this.hiddenSize]); // [B, T, D]
  }

  encodePrompts(prompts: readonly string[]): tf.Tensor3D {
    const ids = tf.tensor2d(this.tokenize(prompts).inputIds.map((r) => [...r]), undefined, 'int32'); // [B, T]
    try {
      return this.encode(ids); // [B, T, D]
    } finally {
      ids.dispose();
    }
  }

  tokenEmbeddings(): tf.Tensor2D {
    this.table ??= tf.zeros([this.vocabSize, this.hiddenSize]) as tf.Tensor2D;
    return this.table;
  }

  vocabulary(): ReadonlyMap<string, number> {
    return new Map();
  }

  dispose(): void {
    this.table?.dispose();
    this.table = undefined;
  }

  private register(prompt: string): number {
    let index = this.registry.get(prompt);
    if (index === undefined) {
      index = this.outputs.length;
      const rng = new Rng(stringSeed(prompt, this.seed));
      this.outputs.push(Float32Array.from(rng.normalArray(this.maxLength * this.hiddenSize))); // [T, D]
      this.registry.set(prompt, index);
    }
    return index;
  }
}
