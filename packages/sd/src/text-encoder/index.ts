// The CLIP text encoder (transformers CLIPTextModel / CLIPTextModelWithProjection).
export { CLIPTextModel } from './clip-text-model';
export type { ClipEncodeOptions, ClipForwardOptions, ClipLoadOptions, ClipTextOutput } from './clip-text-model';
export { parseClipTextConfig } from './config';
export type { ClipHiddenAct, ClipTextConfig } from './config';
export { clipTextWeightShapes } from './clip-weights';
export type { ClipWeightInput } from './clip-weights';
