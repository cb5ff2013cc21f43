export { readSafetensors } from './safetensors';
export type { SafetensorsDtype, SafetensorsEntry, HostTensor, SafetensorsFile } from './safetensors';
