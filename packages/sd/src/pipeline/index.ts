export { textToImage } from './text-to-image';
export type { TextToImageOptions, TextToImageResult } from './text-to-image';
export { encodePng, imageGrid, savePngs } from './png';
