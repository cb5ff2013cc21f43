// The SD 1.x/2.x UNet (diffusers UNet2DConditionModel), channels-last, implementing core's NoisePredictor.
export { UNet2DConditionModel } from './unet-2d-condition';
export type { UNetLoadOptions, UNetIntermediates } from './unet-2d-condition';
export { parseUNetConfig } from './config';
export type { UNet2DConditionConfig, DownBlockType, UpBlockType } from './config';
export { planUNet, unetWeightShapes, addTransformerShapes } from './layout';
export type { UNetPlan, BlockPlan, ResnetPlan, TransformerPlan } from './layout';
export { UNetCrossAttentionSite } from './cross-attention-site';
export { transformer2d, basicTransformerBlock } from './transformer-2d';
export { downBlock, midBlock, upBlock } from './blocks';
export type { BlockSettings } from './blocks';
