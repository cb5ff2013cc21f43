// The library (src/index.ts) as every package builds it, plus the `erase` bin: src/cli/main.ts → dist/cli/main.js.
// One build (so `clean` cannot race a second one); the node shebang banner is harmless in index.js.
import { defineConfig } from 'tsup';
import { packageBuildConfig } from '../../tsup.shared.ts';

const library = packageBuildConfig() as Exclude<ReturnType<typeof packageBuildConfig>, unknown[] | ((...args: never[]) => unknown)>;

export default defineConfig({
  ...library,
  entry: { index: 'src/index.ts', 'cli/main': 'src/cli/main.ts' },
  banner: { js: '#!/usr/bin/env node' },
});
