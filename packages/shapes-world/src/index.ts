// @erase/shapes-world — the embedded ShapesWorld: procedural images and captions, its one-token-per-word CLIP
// vocabulary, the pixel-unshuffle codec and the oracle classifier.
export {
  SHAPE_CLASSES,
  CLASS_NAMES,
  FILL_COLORS,
  BACKGROUNDS,
  CAPTION_TEMPLATES,
  classOfWord,
  worldWords,
} from './world/vocabulary';
export type { ShapeClass, NamedColor } from './world/vocabulary';
export { fillTemplate, randomCaption } from './world/captions';
export type { CaptionAttributes } from './world/captions';

export { generateShapes, generateClassImages, DEFAULT_IMAGE_SIZE, SUPERSAMPLE, RADIUS_RANGE } from './generator/generate';
export type { ShapesBatch, GenerateShapesOptions, GenerateClassImagesOptions } from './generator/generate';
export { renderShape } from './generator/render';
export type { ShapePlacement } from './generator/render';
export { SHAPE_GEOMETRY } from './generator/shapes';
export type { ShapeGeometry } from './generator/shapes';
export { shapesToTensor } from './generator/to-tensor';

export { buildWorldVocabulary, trainMerges, applyMerges, bytesToUnicode, START_OF_TEXT, END_OF_TEXT } from './tokenizer/world-vocab';
export type { WorldVocabulary } from './tokenizer/world-vocab';

export { PixelUnshuffleCodec } from './codec/pixel-unshuffle';

export { OracleClassifier, oracleFileShapes, ORACLE_CHANNELS, BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM } from './oracle/oracle-cnn';
export type { BatchStatistics } from './oracle/oracle-cnn';
export { saveOracle, loadOracle, ORACLE_ARCHITECTURE } from './oracle/oracle-weights';
export { trainOracle } from './oracle/train-oracle';
export type { TrainOracleOptions, TrainOracleResult } from './oracle/train-oracle';
export { evaluateAccuracy } from './oracle/accuracy';
export type { AccuracyReport, ImageClassifierLike } from './oracle/accuracy';

export { shapesWorldTokenizerDir, shapesWorldOracleWeightsPath } from './assets';

export {
  TEXT_ENCODER_CONFIG,
  UNET_CONFIG,
  TRAINING_SCHEDULER_CONFIG,
  SAMPLING_SCHEDULER_CONFIG,
  MODEL_INDEX,
  WORLD_VOCAB_SIZE,
  WORLD_BOS_TOKEN_ID,
  WORLD_EOS_TOKEN_ID,
  WORLD_CONTEXT_LENGTH,
  WORLD_LATENT_SHAPE,
  WORLD_GUIDANCE_SCALE,
  WORLD_SAMPLING_STEPS,
} from './model/configs';
export { initTextEncoder, initUNet, initHostWeights } from './model/init';
export type { InitOptions } from './model/init';
export { saveShapesWorld } from './model/save-weights';
export type { SaveShapesWorldOptions } from './model/save-weights';
export { loadShapesWorld, shapesWorldWeightsDir, ShapesWorldModel, SHAPES_WORLD_SOURCE } from './model/load-shapes-world';
export type { LoadShapesWorldOptions } from './model/load-shapes-world';
export { trainShapesWorld, SHAPES_WORLD_TRAINING_DEFAULTS } from './train/train-shapes-world';
export type { TrainShapesWorldOptions, TrainShapesWorldResult, ShapesWorldTrainingSettings } from './train/train-shapes-world';
export { saveCheckpoint, loadCheckpoint, checkpointPaths, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './train/checkpoint';
export type { CheckpointState, CheckpointTensors, LoadedCheckpoint } from './train/checkpoint';
export * from './evaluation/index';
