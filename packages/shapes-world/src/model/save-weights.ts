/**
 * Writes a trained world as a diffusers-layout folder: `model_index.json`, `text_encoder/{config.json,
 * model.safetensors}`, `unet/{config.json, diffusion_pytorch_model.safetensors}`, `scheduler/scheduler_config.json`
 * (DDIM sampling settings) and `tokenizer/` (a copy of the package's tokenizer files). Weights are F32 in PyTorch
 * layouts and names, so transformers/diffusers read the two model folders directly. Every file is written
 * atomically and `model_index.json` last; other entries of the folder (e.g. `oracle/`) are never touched. Node only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDiffusersPipeline, type CLIPTextModel, type UNet2DConditionModel } from '@erase/sd';
import { shapesWorldTokenizerDir } from '../assets';
import { MODEL_INDEX, SAMPLING_SCHEDULER_CONFIG, TEXT_ENCODER_CONFIG, UNET_CONFIG } from './configs';

/** What `saveShapesWorld` writes besides the weights. */
export interface SaveShapesWorldOptions {
  /** The text encoder's `config.json` (default `TEXT_ENCODER_CONFIG`; pass the one the model was built from). */
  readonly textEncoderConfig?: Readonly<Record<string, unknown>>;
  /** The UNet's `config.json` (default `UNET_CONFIG`). */
  readonly unetConfig?: Readonly<Record<string, unknown>>;
}

/**
 * Writes `textEncoder` and `unet` (their current weights; after `trainShapesWorld`, the EMA weights) into `dir`,
 * created when missing; files of an earlier save are replaced.
 * @returns the files written
 * @throws FileFormatError when something cannot be written
 */
export function saveShapesWorld(dir: string, textEncoder: CLIPTextModel, unet: UNet2DConditionModel, options: SaveShapesWorldOptions = {}): string[] {
  const tokenizerDir = shapesWorldTokenizerDir();
  const tokenizerFiles: Record<string, string> = {};
  for (const name of readdirSync(tokenizerDir).sort()) tokenizerFiles[name] = readFileSync(join(tokenizerDir, name), 'utf8');
  return writeDiffusersPipeline(
    dir,
    {
      modelIndex: MODEL_INDEX,
      components: {
        text_encoder: { config: options.textEncoderConfig ?? TEXT_ENCODER_CONFIG, weights: textEncoder.exportWeights(), weightsName: 'model' },
        unet: { config: options.unetConfig ?? UNET_CONFIG, weights: unet.exportWeights(), weightsName: 'diffusion_pytorch_model' },
        scheduler: { config: SAMPLING_SCHEDULER_CONFIG, configName: 'scheduler_config.json' },
        tokenizer: { files: tokenizerFiles },
      },
    },
    { overwrite: true },
  );
}
