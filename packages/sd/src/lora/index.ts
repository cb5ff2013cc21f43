// Runtime LoRA: attach, load, train, fuse and detach low-rank factors on a model's Linear layers.
export { RuntimeLoraAdapter, attachLora, loadLora } from './runtime-lora';
export type { LoraHost, LinearModuleInfo } from './runtime-lora';
export type { LoraLayerWeights, LoraWeights, LoadLoraOptions } from './types';
