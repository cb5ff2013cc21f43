export { StableDiffusion, SD_SCHEDULER_CONFIG, readComponentConfig } from './stable-diffusion';
export type { StableDiffusionLoadOptions, StableDiffusionSingleFileOptions } from './stable-diffusion';
export { ClipTextEncoder } from './clip-text-encoder';
export type { ClipTextEncoderOptions } from './clip-text-encoder';
