export type { TokenizedBatch, TextEncoder } from './text-encoder';
export type {
  ProjectionName,
  CrossAttentionSite,
  LoraConfig,
  LoraAdapter,
  NoisePredictor,
} from './unet';
export type { Scheduler, SchedulerStepOutput, SchedulerStepOptions } from './scheduler';
export type { LatentCodec, DiffusionModel } from './model';
