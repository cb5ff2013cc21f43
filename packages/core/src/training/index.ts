export { accumulateGradients, microBatchSizes } from './gradient-accumulation';
export type { AccumulateGradientsOptions, AccumulatedGradients } from './gradient-accumulation';
