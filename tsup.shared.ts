// Shared tsup settings: every package builds src/index.ts to ESM + .d.ts, leaving tfjs, @erase/* and node: external.
import { defineConfig } from 'tsup';

export function packageBuildConfig() {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'neutral',
    external: [/^@tensorflow\//, /^@erase\//, /^node:/, 'pngjs', 'ml-matrix'],
  });
}
