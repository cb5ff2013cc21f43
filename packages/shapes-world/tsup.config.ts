import { packageBuildConfig } from '../../tsup.shared.ts';

// gradient-worker.js is the worker-thread entry of data-parallel training (src/train/gradient-workers.ts)
export default packageBuildConfig({ entry: { index: 'src/index.ts', 'gradient-worker': 'src/train/gradient-worker.ts' } });
