// Shared tsup settings: every package builds src/index.ts (or the given entries) to ESM + .d.ts, leaving tfjs, @erase/* and node: external.
import { defineConfig } from 'tsup';

export function packageBuildConfig(options: { entry?: Record<string, string> } = {}) {
  return defineConfig({
    entry: options.entry ?? ['src/index.ts'],
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'neutral',
    external: [/^@tensorflow\//, /^@erase\//, /^node:/, 'pngjs', 'ml-matrix'],
  });
}
