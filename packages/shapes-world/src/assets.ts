/**
 * Where the files shipped with the package live (Node only). The package root is one level above both `src/` and
 * the bundled `dist/`, so the same relative URL works from sources (tests) and from the build.
 */
import { fileURLToPath } from 'node:url';

/** The world's CLIP tokenizer folder (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json). */
export function shapesWorldTokenizerDir(): string {
  return fileURLToPath(new URL('../tokenizer/', import.meta.url));
}

/** The trained oracle's weights (`weights/oracle/model.safetensors`; written by `scripts/train-oracle.ts`). */
export function shapesWorldOracleWeightsPath(): string {
  return fileURLToPath(new URL('../weights/oracle/model.safetensors', import.meta.url));
}
