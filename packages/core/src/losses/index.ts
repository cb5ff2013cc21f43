// Losses of the erasure methods as pure tfjs functions (scalars, torch-style mean reduction).
export { meanSquaredError, checkSameShape } from './mse';
export { stopGradient } from './stop-gradient';
export { predictX0 } from './predict-x0';
export type { AlphaBar } from './predict-x0';
export { esdLoss, esdTarget, resolveNegativeGuidance } from './esd';
export type { EsdPredictions, EsdLossOptions } from './esd';
export { adversarialEraseLoss, adversarialPreserveLoss } from './adversarial-preservation';
export type { AdversarialEraseInputs, AdversarialPreserveInputs } from './adversarial-preservation';
export { realEraOddStepLoss, realEraEvenStepLoss } from './realera';
export type {
  RealEraOddStepPredictions,
  RealEraEvenStepPredictions,
  RealEraOddStepOptions,
  RealEraEvenStepOptions,
} from './realera';
export { conceptAblationLoss } from './concept-ablation';
export type { ConceptAblationPredictions, ConceptAblationLossOptions } from './concept-ablation';
