export { readSafetensors } from './safetensors';
export type { SafetensorsDtype, SafetensorsEntry, HostTensor, SafetensorsFile } from './safetensors';
export { checkWeightKeys } from './weight-keys';
export type { Shaped } from './weight-keys';
export { snakeToCamel, camelToSnake, camelizeConfig, readJsonConfig } from './config';
