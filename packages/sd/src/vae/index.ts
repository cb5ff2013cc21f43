// The SD VAE (diffusers AutoencoderKL), channels-last.
export { AutoencoderKL } from './autoencoder-kl';
export type { VaeLoadOptions } from './autoencoder-kl';
export { DiagonalGaussian, logvarRange } from './diagonal-gaussian';
export { parseAutoencoderKLConfig, vaeDownsampleFactor } from './config';
export type { AutoencoderKLConfig } from './config';
export { autoencoderKLWeightShapes, remapLegacyVaeKeys } from './vae-weights';
export type { VaeWeightInput } from './vae-weights';
