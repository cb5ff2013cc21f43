// @erase/sampling — RealEra neighbour mining / beyond-concept sampling and Adversarial Preservation's
// adversarial concept search. Model-agnostic: inputs are tensors, host arrays and loss closures.

// RealEra (methods.md §2)
export { mineRealEraConcepts } from './realera/neighbour-mining';
export type { RealEraSamples, RealEraSamplingStats, RealEraSamplerStats } from './realera/neighbour-mining';
export { calibrateRealEraSampler } from './realera/calibration';
export type { RealEraCalibration, RealEraCalibrationOptions, SamplerCalibration, Histogram } from './realera/calibration';
export { REALERA_SAMPLER_DEFAULTS, resolveRealEraSamplerOptions } from './realera/options';
export type {
  RealEraSamplerOptions,
  ResolvedRealEraSamplerOptions,
  RadiusMode,
  PerturbationMode,
  RescaleMode,
} from './realera/options';
export type { Summary } from './realera/proposal';

// Adversarial Preservation (methods.md §4)
export { nearestCandidates, reduceCandidates } from './adversarial/nearest-candidates';
export type { Candidates, NearestCandidatesOptions } from './adversarial/nearest-candidates';
export { kMeans1d } from './adversarial/k-means-1d';
export type { KMeans1dOptions, KMeans1dResult } from './adversarial/k-means-1d';
export { gumbelSoftmax, gumbelSoftmaxWithNoise, sampleGumbelNoise } from './adversarial/gumbel-softmax';
export { GumbelConceptSearch } from './adversarial/gumbel-search';
export type { GumbelConceptSearchOptions, GumbelSearchStep } from './adversarial/gumbel-search';
export { pgdAscend, PgdConceptSearch, PGD_DEFAULTS } from './adversarial/pgd-search';
export type { PgdOptions, PgdResult } from './adversarial/pgd-search';
