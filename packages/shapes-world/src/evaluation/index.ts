// The measurement of the embedded world (`scripts/eval-world.ts`): quality, speed, text geometry, concept residue.
export { evaluateWorld } from './evaluate-world';
export type { WorldEvaluation, WorldEvaluationOptions, SpeedFigures } from './evaluate-world';
export { measureQuality, QUALITY_THRESHOLDS, GRID_SYNONYMS } from './quality';
export type { QualityOptions, QualityResult, QualityGrid } from './quality';
export { measureResidue, meanFigures, RESIDUE_DEFAULTS } from './residue';
export type {
  ResidueOptions,
  ResidueResult,
  ErasedClassResidue,
  ErasedClassScorer,
  ClassifiedImageRecord,
  ErasureFigures,
  ResidueRole,
} from './residue';
export { measureTextGeometry } from './text-geometry';
export type { TextGeometry, ClassGeometry, PairCosines, CosineSummary } from './text-geometry';
export { sampleAndClassify, SAMPLING_DEFAULTS } from './sample-and-classify';
export type { SampleRequest, SamplingSettings, SampleAndClassifyOptions, SampleAndClassifyResult } from './sample-and-classify';
export { scorePrompt } from './prompt-scores';
export type { PromptScore } from './prompt-scores';
export { PHOTO_PREFIX, ANCHOR_PROMPT, photoPrompt, qualityPrompts, seedRange } from './prompts';
export type { EvaluationPrompt, EvaluationPromptKind } from './prompts';
export { uceTokenSlices, sliceRows } from './uce-token-slices';
export type { UceTokenSlices } from './uce-token-slices';
export {
  wordErasureKeys,
  eraseWord,
  snapshotProjections,
  restoreProjections,
  projectionsEqual,
  residueRatios,
} from './word-erasure';
export type { WordErasurePrompts, WordErasureKeys, WordErasureWeights, ProjectionSnapshot } from './word-erasure';
export { upscaleNearest, gridPng } from './grid';
export { evaluationToMarkdown, evaluationToJson, residueVerdict, RESIDUE_ABSENT_GAP } from './report';
export type { RunEnvironment } from './report';
