// Shared neural-network primitives (channels-last, tfjs layouts), used by the UNet, the VAE and the text encoders.
export {
  mapWeights,
  defaultTorchLayout,
  tfShapeOf,
  torchShapeOf,
  torchToTfData,
  tfToTorchData,
  variableFromTorch,
  tensorToTorch,
  addLinearShapes,
  addConv2dShapes,
  addNormShapes,
} from './weights';
export type { TorchLayout, LinearAdapter, ModuleWeights, WeightShapes } from './weights';
export { linear, linearModule, loraDelta } from './linear';
export { conv2d, conv2dModule } from './conv2d';
export type { Conv2dPadding, Conv2dOptions } from './conv2d';
export { groupNorm, layerNorm, groupNormModule, layerNormModule } from './norm';
export { silu, gelu, quickGelu, geglu, activation } from './activations';
export type { ActivationName } from './activations';
export { multiHeadAttention, causalMask, attentionModule, MASK_FILL } from './attention';
export type { AttentionOptions, AttentionModuleOptions } from './attention';
export { resnetBlock2d, addResnetBlock2dShapes } from './resnet-block';
export type { ResnetBlock2dOptions } from './resnet-block';
export { downsample2d, upsample2d, upsampleNearest } from './resample';
export { timestepEmbedding, timestepFrequencies, timestepMlp } from './timestep-embedding';
export type { TimestepEmbeddingOptions } from './timestep-embedding';
