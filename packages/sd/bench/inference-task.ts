/**
 * One measurement of `bench/inference.ts`, run in its own process (see `lib/child.ts`); prints one JSON line.
 *
 *   npx tsx bench/inference-task.ts --task clip|unet|unet-blocks|tiny-unet|pack --backend wasm|cpu [--threads N]
 *     [--batches 1,16] [--batch 2] [--size 64] [--warmup 1] [--reps 3]
 *
 * - clip:        SD 1.5's CLIP text encoder (random weights), `encode` of int32 ids [B, 77] for each batch in --batches.
 * - unet:        SD 1.5's whole UNet (random weights) on latents [B, S, S, 4], t = 500, context [B, 77, 768].
 * - unet-blocks: the same UNet part by part, each part's weights uploaded just before it runs (lib/unet-blockwise.ts).
 * - tiny-unet:   the tiny SD 1.x UNet of the parity fixtures on [B, 16, 16, 4], context [B, 77, 32].
 * - pack:        heap growth when XNNPACK first uses a weight (its packed copy), per byte of weights.
 * Times are wall-clock ms per forward pass after `--warmup` cheap passes on one sample (and a quarter of the latent
 * map) that make XNNPACK pack every weight; `heapBytes` is the wasm memory size afterwards (its high-water mark).
 */
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type BackendInfo } from '../src/backend/index';
import { CLIPTextModel } from '../src/text-encoder/clip-text-model';
import { clipTextWeightShapes } from '../src/text-encoder/clip-weights';
import { parseClipTextConfig } from '../src/text-encoder/config';
import { parseUNetConfig } from '../src/unet/config';
import { UNet2DConditionModel } from '../src/unet/unet-2d-condition';
import { optionNumber, optionString } from './lib/args';
import { emitResult } from './lib/child';
import { SD15_TEXT_ENCODER, SD15_UNET, tinyUNetDir } from './lib/configs';
import { fillLcg, randomHostWeights } from './lib/random-weights';
import { median, timeRuns, warmupView, wasmHeapBytes } from './lib/timing';
import { timeUNetBlockwise } from './lib/unet-blockwise';

const SEED = 1234;

/** What the task was doing, named in the error report (an abort while building vs while running). */
let phase = 'starting the backend';

/** A timed forward pass. */
export interface ForwardTiming {
  readonly batch: number;
  readonly times: number[];
  readonly medianMs: number;
}

/** What a task prints. */
export interface TaskResult {
  readonly task: string;
  readonly backend: string;
  readonly threads: number | null;
  readonly simd: boolean | null;
  readonly buildMs: number;
  readonly params: number;
  readonly forwards: ForwardTiming[];
  readonly parts?: Awaited<ReturnType<typeof timeUNetBlockwise>>;
  readonly heapBytes: number | undefined;
  readonly finite: boolean;
}

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fillLcg(data, seed, scale);
  return tf.tensor(data, shape, 'float32');
}

function isFinite(t: tf.Tensor): boolean {
  return tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0] === 1);
}

/**
 * `warmup` runs of `warm` (a cheap pass that makes XNNPACK pack every weight), then `reps` timed runs of `run`.
 */
async function timeForward(batch: number, warmup: number, reps: number, run: () => tf.Tensor, warm: () => tf.Tensor): Promise<{ timing: ForwardTiming; finite: boolean }> {
  for (let i = 0; i < warmup; i++) tf.tidy(() => void warm().dataSync());
  let finite = true;
  const times = await timeRuns(() => {
    const out = run();
    out.dataSync(); // ends the pass (a no-op wait on wasm; reads a few MB)
    finite &&= isFinite(out);
    out.dispose();
  }, 0, reps);
  return { timing: { batch, times, medianMs: median(times) }, finite };
}

async function clipTask(info: BackendInfo, batches: number[], warmup: number, reps: number): Promise<TaskResult> {
  const config = parseClipTextConfig(SD15_TEXT_ENCODER, 'SD 1.5 text encoder');
  const shapes = clipTextWeightShapes(config, false);
  phase = 'building the model';
  const start = performance.now();
  const model = CLIPTextModel.fromWeights(config, randomHostWeights(shapes, SEED), { source: 'random SD 1.5 text encoder' });
  const buildMs = performance.now() - start;
  const forwards: ForwardTiming[] = [];
  let finite = true;
  for (const batch of batches) {
    phase = `running batch ${batch}`;
    const ids = new Int32Array(batch * config.maxPositionEmbeddings);
    let s = SEED;
    for (let i = 0; i < ids.length; i++) ids[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % config.vocabSize;
    const input = tf.tensor2d(ids, [batch, config.maxPositionEmbeddings], 'int32');
    const encode = (ids: tf.Tensor2D) => model.encode(ids, { validateIds: false });
    const r = await timeForward(batch, warmup, reps, () => encode(input), () => encode(warmupView(input)));
    input.dispose();
    forwards.push(r.timing);
    finite &&= r.finite;
  }
  const params = [...model.parameters().values()].reduce((n, v) => n + v.size, 0);
  model.dispose();
  return { task: 'clip', backend: info.name, threads: info.threads, simd: info.simd, buildMs, params, forwards, heapBytes: wasmHeapBytes(), finite };
}

async function unetTask(info: BackendInfo, task: string, batch: number, size: number, warmup: number, reps: number): Promise<TaskResult> {
  const tiny = task === 'tiny-unet';
  const dir = tinyUNetDir();
  if (tiny && dir === undefined) throw new Error('the tiny UNet fixture (shared/fixtures/parity/unet-tiny-sd1) was not found');
  phase = 'building the model';
  const start = performance.now();
  const model = tiny
    ? await UNet2DConditionModel.fromPretrained(dir as string)
    : task === 'unet'
      ? UNet2DConditionModel.fromWeights(parseUNetConfig(SD15_UNET), randomHostWeights(UNet2DConditionModel.expectedWeightShapes(parseUNetConfig(SD15_UNET)), SEED), { source: 'random SD 1.5 UNet' })
      : undefined;
  const buildMs = performance.now() - start;
  const config = model?.config ?? parseUNetConfig(SD15_UNET);
  const side = tiny ? config.sampleSize : size;
  const latents = randomTensor([batch, side, side, config.inChannels], SEED + 1) as tf.Tensor4D;
  const context = randomTensor([batch, 77, config.crossAttentionDim[0] as number], SEED + 2) as tf.Tensor3D;
  const timesteps = tf.fill([batch], 500, 'float32') as tf.Tensor1D;
  let result: TaskResult;
  phase = `running batch ${batch} at ${side}×${side}`;
  if (model === undefined) {
    const parts = await timeUNetBlockwise(config, { latents, timesteps, context }, warmup, reps, SEED);
    const total = parts.reduce((a, p) => a + p.medianMs, 0);
    const params = parts.reduce((a, p) => a + p.params, 0);
    result = { task, backend: info.name, threads: info.threads, simd: info.simd, buildMs, params, forwards: [{ batch, times: [total], medianMs: total }], parts, heapBytes: wasmHeapBytes(), finite: true };
  } else {
    const r = await timeForward(batch, warmup, reps, () => model.predict(latents, timesteps, context), () => model.predict(warmupView(latents), warmupView(timesteps), warmupView(context)));
    const params = [...model.parameters().values()].reduce((n, v) => n + v.size, 0);
    model.dispose();
    result = { task, backend: info.name, threads: info.threads, simd: info.simd, buildMs, params, forwards: [r.timing], heapBytes: wasmHeapBytes(), finite: r.finite };
  }
  tf.dispose([latents, context, timesteps]);
  return result;
}

/**
 * How much heap XNNPACK's cached operators add on top of the weights they use: 500 MiB of Linear weights
 * ([1280, 6400] × 16) and 472 MiB of conv filters (3×3×1280×1280 × 8), each used once on a small input. Returns the
 * heap growth per weight byte (±0.2: the heap grows in steps of up to 96 MiB).
 */
function packingTask(info: BackendInfo): Record<string, unknown> {
  phase = 'measuring weight packing';
  const heap = () => wasmHeapBytes() ?? 0;
  const kept: tf.Tensor[] = []; // all weights stay alive until the end, so no freed space hides a packed copy
  const grow = (make: (i: number) => tf.Tensor, count: number, use: (w: tf.Tensor) => tf.Tensor): number => {
    const weights = Array.from({ length: count }, (_, i) => make(i));
    kept.push(...weights);
    const bytes = weights.reduce((n, w) => n + 4 * w.size, 0);
    const before = heap();
    for (const w of weights) use(w).dispose();
    return (heap() - before) / bytes;
  };
  const x = randomTensor([4, 1280], 99) as tf.Tensor2D;
  const matMulGrowth = grow((i) => randomTensor([1280, 6400], 100 + i, 0.03), 16, (w) => tf.matMul(x, w as tf.Tensor2D)); // [4, 1280] x [1280, 6400]
  const image = randomTensor([1, 8, 8, 1280], 98) as tf.Tensor4D;
  const convGrowth = grow((i) => randomTensor([3, 3, 1280, 1280], 200 + i, 0.01), 8, (f) => tf.conv2d(image, f as tf.Tensor4D, 1, 'same')); // [1, 8, 8, 1280] * [3, 3, 1280, 1280]
  tf.dispose([x, image, ...kept]);
  return { task: 'pack', backend: info.name, threads: info.threads, matMulGrowth, convGrowth, heapBytes: heap() };
}

async function main(): Promise<void> {
  const task = optionString('task') ?? 'clip';
  const backend = (optionString('backend') ?? 'wasm') as 'wasm' | 'cpu';
  const threads = optionNumber('threads', 1);
  const warmup = optionNumber('warmup', 1);
  const reps = optionNumber('reps', 3);
  const info = backend === 'wasm' ? await useBackend('wasm', { threads, warn: (m) => console.error(m) }) : await useBackend('cpu');
  if (task === 'pack') {
    emitResult(packingTask(info));
  } else if (task === 'clip') {
    const batches = (optionString('batches') ?? '1,16').split(',').map(Number);
    emitResult(await clipTask(info, batches, warmup, reps));
  } else if (task === 'unet' || task === 'unet-blocks' || task === 'tiny-unet') {
    emitResult(await unetTask(info, task, optionNumber('batch', 2), optionNumber('size', 64), warmup, reps));
  } else {
    throw new Error(`unknown --task ${task}`);
  }
}

try {
  await main();
} catch (error) {
  // tfjs-wasm reports an exhausted heap as an abort (a RuntimeError); the module is unusable afterwards.
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  let live = '?';
  try {
    live = (tf.memory().numBytes / 2 ** 20).toFixed(0);
  } catch {
    // the engine may be unusable after an abort
  }
  emitResult({ error: `${message} (while ${phase}; ${live} MiB of live tensors)`, heapBytes: wasmHeapBytes() });
}
