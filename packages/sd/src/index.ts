// @erase/sd — Stable Diffusion on TensorFlow.js. Each area's barrel is re-exported here.
export * from './io/index';
export * from './pipeline/index';
export * from './text-encoder/index';
export * from './vae/index';
export * from './tokenizer/index';
export * from './schedulers/index';
export * from './stable-diffusion/index';
export * from './nn/index';
export * from './unet/index';
export * from './lora/index';
export * from './backend/index';
