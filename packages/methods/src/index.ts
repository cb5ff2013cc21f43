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

// The result contract every method meets
export { projectionParameterNames } from './shared/erasure-result';
export type { ErasureMethodName, ErasureLora, ErasureResultBase } from './shared/erasure-result';

// Shared pieces (token selection, prompt encoding, weight maps, LoRA copies) that other methods reuse
export { encodePromptTable } from './shared/prompt-encoding';
export type { EncodedPrompt, PromptTable, EncodePromptOptions } from './shared/prompt-encoding';
export { uce2023Slices, lastWordTokenIndex, lastWordTokenVector } from './shared/token-selection';
export type { AlignedSlices } from './shared/token-selection';
export { readProjections, writeProjections, disposeWeights } from './shared/site-weights';
export type { ProjectionWeights } from './shared/site-weights';
export { copyLoraWeights } from './shared/lora-weights';
export type { LoraHostTensor, LoraLayerCopy, LoraWeightCopies } from './shared/lora-weights';

// Concept Ablation (methods.md §5)
export { conceptAblation } from './concept-ablation/concept-ablation';
export type { ConceptAblationResult, ConceptAblationStatistics } from './concept-ablation/concept-ablation';
export { resolveConceptAblationOptions, CONCEPT_ABLATION_PARAMETER_GROUPS } from './concept-ablation/options';
export type { ConceptAblationOptions, ResolvedConceptAblationOptions, ConceptAblationParameterGroup } from './concept-ablation/options';

// Saving, loading and exporting erasures
export { save } from './io/save';
export type { SaveOptions, SavedErasure } from './io/save';
export { applySavedErasure } from './io/apply';
export type { ApplySavedErasureOptions, AppliedErasure } from './io/apply';
export { exportModel } from './io/export';
export type { ExportModelOptions, ExportedModel } from './io/export';
export { baseFingerprint } from './io/fingerprint';
export type { BaseFingerprint, FingerprintFile } from './io/fingerprint';
export { readEraseConfig, ERASE_CONFIG_NAME, UNET_DELTA_NAME, LORA_NAME } from './io/erase-config';
export type { EraseConfig, SavedLoraFormat } from './io/erase-config';
export { ERASE_VERSION } from './io/version';

// ESD and Adversarial Preservation (methods.md §4–5)
export { esd } from './esd/esd';
export type { EsdResult, EsdStatistics, EsdStepRecord } from './esd/esd';
export { resolveEsdOptions, ESD_DEFAULTS } from './esd/options';
export type { EsdOptions, ResolvedEsdOptions } from './esd/options';
export { esdParameterNames, isCrossAttentionParameter } from './esd/parameter-selection';
export type { EsdVariant } from './esd/parameter-selection';
export { adversarialPreservation } from './adversarial-preservation/adversarial-preservation';
export type {
  AdversarialPreservationResult,
  AdversarialPreservationStatistics,
  AdversarialCandidateSummary,
} from './adversarial-preservation/adversarial-preservation';
export { resolveAdversarialPreservationOptions, ADVERSARIAL_PRESERVATION_DEFAULTS } from './adversarial-preservation/options';
export type {
  AdversarialPreservationOptions,
  ResolvedAdversarialPreservationOptions,
  AdversarialSearch,
  AdversarialGumbelOptions,
  AdversarialPgdOptions,
} from './adversarial-preservation/options';
export type { GumbelIterationRecord, GumbelSearchSummary } from './adversarial-preservation/gumbel-stage';
export type { PgdIterationRecord } from './adversarial-preservation/pgd-stage';
export { vocabularyWords } from './adversarial-preservation/vocabulary';
export { ParameterSnapshot, setTrainable } from './shared/parameter-snapshot';
export { ddimTimesteps, drawPartialStep, partialDdimSample, ddimAlphaBar } from './shared/partial-sampling';
export type { PartialStep, PartialSamplingInputs } from './shared/partial-sampling';
