/**
 * The canonical in-memory form of LoRA weights, independent of any file format: what the I/O layer's LoRA readers
 * produce (diffusers `unet.<module>.lora.down.weight`, PEFT `lora_A/lora_B`, legacy attention-processor keys, kohya
 * names …) and what a model's `loadLora` consumes and `exportLora` returns.
 *
 * Notation: for the Linear at `modulePath` with weight W [out, in]:
 *   W' = W + scale · (α / r) · B A,   A = `down` [r, in],   B = `up` [out, r]
 *   `alpha` absent means α = r (diffusers: `network_alpha=None` → factor 1).
 */
import type { HostTensor } from '../io/safetensors';

/** One adapted Linear (or 1×1 conv): float32 PyTorch-layout factors. */
export interface LoraLayerWeights {
  /** A (`lora.down`, `lora_A`), [r, in] ([r, in, 1, 1] accepted for a 1×1 conv; exported as [r, in]). */
  readonly down: HostTensor;
  /** B (`lora.up`, `lora_B`), [out, r] ([out, r, 1, 1] accepted for a 1×1 conv). */
  readonly up: HostTensor;
  /** α (kohya/PEFT `network_alpha`); absent = r. */
  readonly alpha?: number;
}

/** Module path (diffusers name, e.g. `mid_block.attentions.0.transformer_blocks.0.attn2.to_k`) → its factors. */
export type LoraWeights = ReadonlyMap<string, LoraLayerWeights>;

/** Options of `loadLora`. */
export interface LoadLoraOptions {
  /** The adapter's user scale (diffusers `cross_attention_kwargs["scale"]`); default 1. */
  readonly scale?: number;
  /** Whether the factor variables are trainable (optimizers' default var list); default true. */
  readonly trainable?: boolean;
  /** Named in errors (e.g. the LoRA file path). */
  readonly source?: string;
}
