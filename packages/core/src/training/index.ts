export { accumulateGradients, microBatchSizes } from './gradient-accumulation';
export type { AccumulateGradientsOptions, AccumulatedGradients } from './gradient-accumulation';
export { AdamW } from './adamw';
export type { AdamWOptions } from './adamw';
export { clipGlobalNorm } from './clip-grad-norm';
export { releaseAbandonedTape } from './release-tape';
