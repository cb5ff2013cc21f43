// Weight I/O: safetensors, diffusers folders, single-file LDM checkpoints, LoRA files, configs.
export { readSafetensors, openSafetensors, readSafetensorsHeader, checkAllDecodable } from './safetensors';
export type { HostTensor, SafetensorsFile, SafetensorsHandle, SafetensorsDtype, SafetensorsEntry } from './safetensors';
export type { UndecodedDtype } from './dtypes';
export { writeSafetensors, fileDtypeFor } from './safetensors-writer';
export type { TensorToWrite, WriteSafetensorsOptions } from './safetensors-writer';
export { MAX_HEADER_BYTES } from './safetensors-header';
export { DTYPE_SIZES, UNDECODED_DTYPE_BITS, isUndecodedDtype, halfBitsToNumber, numberToHalfBits, numberToBf16Bits } from './dtypes';

export { readModelIndex, findComponentWeights, readShardedWeights, loadComponent, loadPipeline } from './diffusers-folder';
export type {
  LoadedComponent,
  LoadedPipeline,
  ModelIndex,
  ModelIndexComponent,
  ComponentLoadOptions,
  ComponentWeightFiles,
} from './diffusers-folder';
export { writeDiffusersComponent, writeDiffusersPipeline, writeModelIndex, writePipelineComponent } from './diffusers-writer';
export type { WriteDiffusersOptions, PipelineComponentToWrite } from './diffusers-writer';

export { loadSingleFileCheckpoint, detectSdVersion } from './single-file';
export { loadPretrainedComponent } from './pretrained';
export type { PretrainedOptions } from './pretrained';
export type { SingleFileCheckpoint, SingleFileOptions, SdVersion } from './single-file';
export { inferUnetConfig, inferVaeConfig, inferClipTextConfig } from './ldm-configs';

export { readLora, writeLora, parseLora, loraToTensors, detectLoraFormat } from './lora';
export type { LoraLayer, LoraWeightsByComponent, LoraFile, LoraFormat, LoraComponent, ParseLoraOptions } from './lora';
export { guessModulePath, toKohyaName } from './lora-kohya';

export { checkWeightKeys } from './weight-keys';
export type { Shaped } from './weight-keys';
export { snakeToCamel, camelToSnake, camelizeConfig, readJsonConfig } from './config';
