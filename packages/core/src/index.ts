// @erase/core — interfaces, the closed-form edit, losses and shared runtime pieces.
export * from './errors/index';
export * from './interfaces/index';
export { reportProgress } from './progress/progress';
export type { ProgressEvent, ProgressListener, LongRunningOptions } from './progress/progress';
export { Rng } from './random/rng';
export { ensureGradients } from './runtime/gradients';
export * from './closed-form/index';
export * from './losses/index';
export * from './training/index';
export * from './io/index';
