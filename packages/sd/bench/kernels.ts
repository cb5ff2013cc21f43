/**
 * Conv kernels on the wasm backend, one thread vs all threads: forward conv; `Conv2DBackpropInput` as tfjs's own
 * kernel and as the two rewrites registered by this package (flipped conv, gemm + col2im); the registered
 * `Conv2DBackpropFilter` (im2col, and the swapped conv where it applies). Prints a markdown table for
 * docs/benchmarks.md.
 *
 *   npx tsx bench/kernels.ts [--reps 3] [--threads N] [--quick]
 *
 * Times are medians of `--reps` runs after one warm-up, measured around the synchronous kernel call (wasm kernels
 * finish before they return, also with XNNPACK threads). GFLOP/s counts 2·N·Ho·Wo·Fh·Fw·Ci·Co for every op.
 * Keep it short on shared machines: the default set takes about a minute on 2 cores.
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { Rng } from '@erase/core';
import { useBackend } from '../src/backend/index';
import { setBackpropFilterStrategy, type BackpropFilterStrategy } from '../src/backend/conv2d-backprop-filter';
import { setBackpropInputStrategy, type BackpropInputStrategy } from '../src/backend/conv2d-backprop-input';

type Pad = 'same' | 'valid' | number[][];

interface Shape {
  readonly label: string;
  readonly x: [number, number, number, number]; // [N, H, W, Ci]
  readonly filter: [number, number, number, number]; // [Fh, Fw, Ci, Co]
  readonly strides: number;
  readonly pad: Pad;
}

// SD 1.x UNet convs at 256 px (32×32 latents) and their deeper levels; batch 1.
const SHAPES: readonly Shape[] = [
  { label: 'resnet 3×3, 32×32×320', x: [1, 32, 32, 320], filter: [3, 3, 320, 320], strides: 1, pad: 'same' },
  { label: 'resnet 3×3, 16×16×640', x: [1, 16, 16, 640], filter: [3, 3, 640, 640], strides: 1, pad: 'same' },
  { label: 'resnet 3×3, 8×8×1280', x: [1, 8, 8, 1280], filter: [3, 3, 1280, 1280], strides: 1, pad: 'same' },
  { label: 'downsample 3×3 s2, 32×32×320', x: [1, 32, 32, 320], filter: [3, 3, 320, 320], strides: 2, pad: [[0, 0], [0, 1], [0, 1], [0, 0]] },
  { label: 'shortcut 1×1, 32×32×320→640', x: [1, 32, 32, 320], filter: [1, 1, 320, 640], strides: 1, pad: 'valid' },
  { label: 'conv_in 3×3, 32×32×4→320', x: [1, 32, 32, 4], filter: [3, 3, 4, 320], strides: 1, pad: 'same' },
];

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const reps = Number(argument('reps') ?? 3);
const quick = process.argv.includes('--quick');
const allThreads = Number(argument('threads') ?? os.availableParallelism());
const shapes = quick ? SHAPES.filter((_, i) => i === 0 || i === 3) : SHAPES;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function time(run: () => tf.Tensor): number {
  run().dispose(); // warm-up (XNNPACK packs weights and creates its operator on first use)
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    const out = run();
    times.push(performance.now() - start);
    out.dispose();
  }
  return median(times);
}

interface Row {
  readonly shape: Shape;
  readonly threads: number;
  readonly forward: number;
  readonly input: Partial<Record<BackpropInputStrategy, number>>;
  readonly filter: Partial<Record<Exclude<BackpropFilterStrategy, 'auto'>, number>>;
  readonly gflop: number;
}

function benchShape(shape: Shape, threads: number): Row {
  const rng = new Rng(1);
  const x = rng.normalTensor(shape.x) as tf.Tensor4D;
  const w = rng.normalTensor(shape.filter) as tf.Tensor4D;
  const strides: [number, number] = [shape.strides, shape.strides];
  const pad = shape.pad as 'same';
  const forward = () => tf.conv2d(x, w, strides, pad);
  const y = forward();
  const dy = rng.normalTensor(y.shape);
  const [, Ho, Wo] = y.shape as number[];
  y.dispose();
  const [N] = shape.x;
  const [Fh, Fw, Ci, Co] = shape.filter;
  const gflop = (2 * N * (Ho as number) * (Wo as number) * Fh * Fw * Ci * Co) / 1e9;
  const attrs = { strides, pad, dataFormat: 'NHWC' } as const;
  const input = () =>
    tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...attrs, inputShape: shape.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const filter = () =>
    tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: shape.filter } as unknown as tf.NamedAttrMap) as tf.Tensor;

  const forwardMs = time(forward);
  const inputTimes: Row['input'] = {};
  const inputStrategies: BackpropInputStrategy[] = shape.strides === 1 ? ['original', 'flipped-conv', 'gemm'] : ['original', 'gemm'];
  for (const strategy of inputStrategies) {
    setBackpropInputStrategy(strategy);
    inputTimes[strategy] = time(input);
  }
  setBackpropInputStrategy('auto');
  const filterTimes: Row['filter'] = {};
  const strategies: Exclude<BackpropFilterStrategy, 'auto'>[] = shape.strides === 1 ? ['swapped-conv', 'im2col'] : ['im2col'];
  for (const strategy of strategies) {
    setBackpropFilterStrategy(strategy);
    filterTimes[strategy] = time(filter);
  }
  setBackpropFilterStrategy('auto');
  tf.dispose([x, w, dy]);
  return { shape, threads, forward: forwardMs, input: inputTimes, filter: filterTimes, gflop };
}

function cell(ms: number | undefined, gflop: number): string {
  if (ms === undefined) return '—';
  return `${ms.toFixed(1)} (${(gflop / (ms / 1e3)).toFixed(1)})`;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const threadCounts = allThreads > 1 ? [1, allThreads] : [1];
  for (const wanted of threadCounts) {
    const info = await useBackend('wasm', { threads: wanted });
    process.stderr.write(`wasm: ${info.threads} thread(s), SIMD ${info.simd}\n`);
    for (const shape of shapes) {
      rows.push(benchShape(shape, info.threads ?? wanted));
      process.stderr.write(`  ${shape.label}: done\n`);
    }
  }
  const lines = [
    `Conv kernels on tfjs-wasm 4.22 (Node ${process.versions.node}, ${os.availableParallelism()} cores: ${os.cpus()[0]?.model ?? 'unknown'}), ` +
      `batch 1, median of ${reps}; ms (GFLOP/s).`,
    '',
    '| conv | threads | forward | input grad: tfjs kernel | flipped-conv | gemm + col2im | best vs tfjs | filter grad: im2col | swapped-conv |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const best = Math.min(r.input['flipped-conv'] ?? Infinity, r.input.gemm ?? Infinity);
      return (
        `| ${r.shape.label} | ${r.threads} | ${cell(r.forward, r.gflop)} | ${cell(r.input.original, r.gflop)} | ` +
        `${cell(r.input['flipped-conv'], r.gflop)} | ${cell(r.input.gemm, r.gflop)} | ${((r.input.original ?? NaN) / best).toFixed(1)}× | ` +
        `${cell(r.filter.im2col, r.gflop)} | ${cell(r.filter['swapped-conv'], r.gflop)} |`
      );
    }),
  ];
  console.log(lines.join('\n'));
}

await main();
