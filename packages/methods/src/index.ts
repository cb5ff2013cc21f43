// @erase/methods — concept-erasure methods on core's DiffusionModel: UCE (both official versions) and RealEra.

// UCE (methods.md §1)
export { uce } from './uce/uce';
export type { UceResult, UceStatistics, UcePromptSelection } from './uce/uce';
export { resolveUceOptions } from './uce/options';
export type { UceOptions, ResolvedUceOptions, UceVersion, UceTechnique, UcePromptExpansion } from './uce/options';

// RealEra (methods.md §1–3)
export { realEra } from './realera/realera';
export type { RealEraResult, RealEraStatistics, RealEraMiningStatistics, RealEraLora } from './realera/realera';
export { resolveRealEraOptions } from './realera/options';
export type {
  RealEraOptions,
  ResolvedRealEraOptions,
  RealEraStages,
  RealEraClosedFormOptions,
  RealEraLoraOptions,
} from './realera/options';
export type { RealEraClosedFormStatistics } from './realera/closed-form-stage';
export type { RealEraLoraStatistics } from './realera/noise-alignment';
export { generateAnchorLatents } from './realera/anchor-latents';
export type { AnchorLatentOptions } from './realera/anchor-latents';

// Shared pieces (token selection, prompt encoding, weight maps, LoRA copies) that other methods reuse
export { encodePromptTable } from './shared/prompt-encoding';
export type { EncodedPrompt, PromptTable, EncodePromptOptions } from './shared/prompt-encoding';
export { uce2023Slices, lastWordTokenIndex, lastWordTokenVector } from './shared/token-selection';
export type { AlignedSlices } from './shared/token-selection';
export { readProjections, writeProjections, disposeWeights } from './shared/site-weights';
export type { ProjectionWeights } from './shared/site-weights';
export { copyLoraWeights } from './shared/lora-weights';
export type { LoraHostTensor, LoraLayerCopy, LoraWeightCopies } from './shared/lora-weights';
