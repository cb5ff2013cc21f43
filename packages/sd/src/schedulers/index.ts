// Diffusion schedulers (diffusers 0.25.1 semantics), one per file.
export { DDIMScheduler } from './ddim';
export type { DDIMSchedulerConfig, DDIMStepOptions } from './ddim';
export { DDPMScheduler } from './ddpm';
export type { DDPMSchedulerConfig, DDPMVarianceType } from './ddpm';
export { PNDMScheduler } from './pndm';
export type { PNDMSchedulerConfig } from './pndm';
export { EulerDiscreteScheduler } from './euler-discrete';
export type { EulerDiscreteSchedulerConfig, EulerStepOptions } from './euler-discrete';
export { SCHEDULER_CLASSES, schedulerFromConfig, schedulerFromPretrained } from './from-config';
export type { SchedulerClassName } from './from-config';
export { makeBetas, alphasCumprodFromBetas, betasForAlphaBar, rescaleZeroTerminalSnr } from './schedule';
export type { BetaSchedule, TimestepSpacing, PredictionType, BetaScheduleConfig } from './schedule';
