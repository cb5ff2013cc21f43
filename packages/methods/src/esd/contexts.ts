/**
 * Encoder outputs E_p of the prompts a fine-tuning method conditions on (the erased concepts, `''` for ∅), kept as
 * tensors for the whole run: the text encoder is not trained, so each prompt is encoded once.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TextEncoder } from '@erase/core';

/** Prompt → E_p, float32 [1, T, D]. The creator owns the tensors (see {@link disposeContexts}). */
export type PromptContexts = Map<string, tf.Tensor3D>;

/** Encodes every distinct prompt once. No tensor is left behind on error. */
export function encodeContexts(encoder: TextEncoder, prompts: readonly string[]): PromptContexts {
  const out: PromptContexts = new Map();
  try {
    for (const prompt of new Set(prompts)) out.set(prompt, encoder.encodePrompts([prompt])); // [1, T, D]
  } catch (error) {
    disposeContexts(out);
    throw error;
  }
  return out;
}

/** E_p of a prompt that was encoded. */
export function contextOf(contexts: PromptContexts, prompt: string): tf.Tensor3D {
  const context = contexts.get(prompt);
  if (!context) throw new Error(`internal: prompt ${JSON.stringify(prompt)} was not encoded`);
  return context;
}

/** Disposes every context and clears the map. */
export function disposeContexts(contexts: PromptContexts): void {
  for (const context of contexts.values()) context.dispose();
  contexts.clear();
}
