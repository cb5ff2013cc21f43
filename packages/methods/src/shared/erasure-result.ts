/**
 * The contract every erasure method's result meets, so that `save()`, the CLI and the benchmark handle them alike.
 * A method changes the model in place (edited weights written into it, a LoRA left attached or fused); the result
 * says what changed, with which options, and holds host copies of any LoRA.
 */
import type { LoraWeightCopies } from './lora-weights';

/** Method ids, as written to `erase_config.json`. */
export type ErasureMethodName = 'uce' | 'realera' | 'esd' | 'adversarial-preservation' | 'concept-ablation';

/** A trained LoRA's host copies. */
export interface ErasureLora {
  /** Module path (diffusers name, e.g. `…attn2.to_k`) → factors. */
  readonly weights: LoraWeightCopies;
  /** True when its update was fused into the base weights (then those weights are also in `changedParameters`). */
  readonly fused: boolean;
}

/** Fields every method's result has. */
export interface ErasureResultBase {
  readonly method: ErasureMethodName;
  /** The resolved options, JSON-serialisable (no tensors, no functions, no signals). */
  readonly options: object;
  /**
   * UNet parameters the method overwrote in place, by diffusers state-dict name (e.g.
   * `down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight`), in module order. An unfused LoRA is not
   * listed here (it lives in `lora`); a fused one lists its targets.
   */
  readonly changedParameters: readonly string[];
  /** The trained LoRA, when the method trained one. */
  readonly lora?: ErasureLora | undefined;
  /** Frees the result's tensors (never the model's). */
  dispose(): void;
}

/** `${modulePath}.weight` for each key of a projection map keyed by module path (`…attn2.to_k`). */
export function projectionParameterNames(keys: Iterable<string>): string[] {
  return [...keys].map((key) => `${key}.weight`);
}
