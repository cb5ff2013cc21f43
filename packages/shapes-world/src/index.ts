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
export { AdamW } from './oracle/adamw';
export type { AdamWOptions } from './oracle/adamw';
export { evaluateAccuracy } from './oracle/accuracy';
export type { AccuracyReport, ImageClassifierLike } from './oracle/accuracy';

export { shapesWorldTokenizerDir, shapesWorldOracleWeightsPath } from './assets';
