// @erase/eval — erasure metrics (Acc_e/Acc_s/Acc_g, H_o, ESR/PSR, NER, CLIP score), prompt sets as data,
// a Table-1-shaped report, and the prompts-CSV → plan → shards → merge harness.

// Metrics
export { harmonicMeanHo } from './metrics/harmonic-mean';
export { scoreErasedClass, intendedClassScore, averageErasureMetrics } from './metrics/erasure-accuracy';
export type {
  PromptRole,
  AccuracyVariant,
  ClassifiedImage,
  ErasureAccuracyOptions,
  IntendedClassScore,
  ErasedClassScores,
  ErasureMetrics,
} from './metrics/erasure-accuracy';
export { erasingSuccessRate, preservingSuccessRate, topKHitRate, rankClasses } from './metrics/success-rate';
export type { RankedPrediction } from './metrics/success-rate';
export { nudityExposureRates, countExposedDetections, DEFAULT_NER_THRESHOLDS } from './metrics/nudity-exposure';
export type { Detection, NudityExposureRate } from './metrics/nudity-exposure';
export { clipScores, meanClipScore } from './metrics/clip-score';
export { zeroShotProbabilities } from './metrics/zero-shot';

// Classifiers
export { createZeroShotClassifier, classifyImages } from './classifier/image-classifier';
export type { ImageClassifier } from './classifier/image-classifier';

// Report
export { buildErasureReport, parseErasureReportJson, ERASURE_REPORT_SCHEMA } from './report/erasure-report';
export type { ErasureReport, ErasureReportRow, MethodErasureResults } from './report/erasure-report';
export { erasureReportToMarkdown, erasureReportToCsv, erasureReportToJson, writeErasureReportFiles } from './report/render';

// Prompt sets
export {
  cifar10PromptSet,
  cifar10Synonyms,
  imagenettePromptSet,
  imagenetteSplit,
  realEraAssociatedPrompts,
  realEraAssociatedPromptsInfo,
  promptTemplates,
  promptTemplate,
  fillTemplate,
  nudenetExposedLabels,
} from './prompts/prompt-sets';
export type {
  Cifar10PromptSet,
  ImagenettePromptSet,
  ImagenetteSplit,
  ImagenetteSplitId,
  AssociatedPrompt,
  AssociatedTask,
  PromptTemplate,
  PromptTemplateId,
  ExposedLabel,
} from './prompts/prompt-sets';

// Harness
export { parseCsv, formatCsv, formatCsvField } from './harness/csv';
export type { CsvField, CsvRecord } from './harness/csv';
export { PROMPT_CSV_COLUMNS, parsePromptsCsv, formatPromptsCsv } from './harness/prompts-csv';
export type { PromptRow } from './harness/prompts-csv';
export { objectErasurePrompts, promptRowsFromConcepts, seedRange, promptRole } from './harness/prompt-rows';
export type { ConceptPrompt } from './harness/prompt-rows';
export { createGenerationPlan, planToPromptRows } from './harness/plan';
export type { GenerationItem, GenerationPlan, GenerationPlanOptions } from './harness/plan';
export { shardPlan, mergeShardResults, PlanMismatchError } from './harness/shard';
export type { GenerationShard, ShardResults } from './harness/shard';
export { classifyGeneratedBatches, classifiedImagesFor } from './harness/classify-plan';
export type { ClassifiedItem, GeneratedBatch } from './harness/classify-plan';
export { readPromptsCsvFile, writePromptsCsvFile, writeTextFileAtomic } from './harness/files';
