/**
 * One measurement of `bench/train-step.ts`, run in its own process (see `lib/child.ts`); prints one JSON line.
 *
 *   npx tsx bench/train-task.ts --case world-unet|world-clip|lora --backend wasm|cpu [--threads N] [--batch 32]
 *     [--size 12] [--warmup 2] [--steps 10] [--forwards 3] [--profile]
 *
 * A step is what a training loop does: `tf.variableGrads` of the loss (forward with the tape, backward), one AdamW
 * update, and a read of the loss value.
 * - world-unet: the world's UNet (1.69M parameters, all trained), ε-prediction MSE on latents [B, S, S, 12],
 *   t ∈ [0, 1000), context [B, 16, 64] (fixed random inputs).
 * - world-clip: the world's text encoder (all trained, the token table too), MSE of `encode(ids)` [B, 16] to a
 *   random target.
 * - lora: the tiny SD 1.x UNet fixture, frozen, with rank-1 LoRA on every `attn2.to_k` / `attn2.to_v`; the UNet loss
 *   on latents [B, 16, 16, 4], context [B, 77, 32].
 * Reports per-step times, a tape-free forward time, the AdamW share, the wasm heap before the first step and after
 * the last (its high-water mark), live-tensor counts (they must not grow), and with `--profile` the time per kernel
 * of one extra step (`tf.profile`; wall clock per kernel on wasm).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '@erase/core';
import { useBackend } from '../src/backend/index';
import { CLIPTextModel } from '../src/text-encoder/clip-text-model';
import { clipTextWeightShapes } from '../src/text-encoder/clip-weights';
import { parseClipTextConfig } from '../src/text-encoder/config';
import { parseUNetConfig } from '../src/unet/config';
import { UNet2DConditionModel } from '../src/unet/unet-2d-condition';
import { BenchAdamW } from './lib/adamw';
import { optionFlag, optionNumber, optionString } from './lib/args';
import { emitResult } from './lib/child';
import { tinyUNetDir, WORLD_TEXT_ENCODER, WORLD_UNET } from './lib/configs';
import { fillLcg, parameterCount, randomHostWeights } from './lib/random-weights';
import { median, timeRuns, wasmHeapBytes } from './lib/timing';

/** Case names. */
export type TrainCase = 'world-unet' | 'world-clip' | 'lora';

/** Time per kernel name over one profiled step. */
export interface KernelShare {
  readonly kernel: string;
  readonly ms: number;
  readonly calls: number;
}

/** What a run prints. */
export interface TrainResult {
  readonly case: TrainCase;
  readonly backend: string;
  readonly threads: number | null;
  readonly params: number;
  readonly trainableParams: number;
  /** sha256 of the sorted `name:shape` lines of the model's weights in PyTorch layout (see train_step.py). */
  readonly keysDigest: string;
  readonly stepMs: number[];
  readonly medianStepMs: number;
  /** Forward pass without a tape (median). */
  readonly forwardMs: number;
  /** AdamW update (median). */
  readonly optimizerMs: number;
  readonly heapBeforeBytes: number | undefined;
  readonly heapBytes: number | undefined;
  /** `tf.memory().numTensors` after each step: constant when nothing leaks. */
  readonly tensorsAfterSteps: number[];
  /** Peak bytes of live tensors during the profiled step (`tf.profile`). */
  readonly peakTensorBytes?: number;
  readonly kernels?: KernelShare[];
  /** The same, keyed by kernel name and input shapes (the 12 largest). */
  readonly kernelsByShape?: KernelShare[];
  readonly finiteLoss: boolean;
}

/** A case set up: the loss, what it trains, and what it holds. */
interface Setup {
  readonly loss: () => tf.Scalar;
  readonly trainable: tf.Variable[];
  readonly params: number;
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  readonly dispose: () => void;
}

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fillLcg(data, seed, scale);
  return tf.tensor(data, shape, 'float32');
}

function randomInts(n: number, seed: number, below: number): Int32Array {
  const out = new Int32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) out[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % below;
  return out;
}

/** The ε-prediction loss of `unet` on fixed random inputs. */
function unetLoss(unet: UNet2DConditionModel, batch: number, size: number, tokens: number): { loss: () => tf.Scalar; inputs: tf.Tensor[] } {
  const cfg = unet.config;
  const latents = randomTensor([batch, size, size, cfg.inChannels], 11) as tf.Tensor4D;
  const noise = randomTensor([batch, size, size, cfg.outChannels], 12);
  const context = randomTensor([batch, tokens, unet.contextDim], 13) as tf.Tensor3D;
  const timesteps = tf.tensor1d(Float32Array.from(randomInts(batch, 14, 1000)), 'float32');
  const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(unet.predict(latents, timesteps, context), noise))) as tf.Scalar);
  return { loss, inputs: [latents, noise, context, timesteps] };
}

async function setUp(kind: TrainCase, batch: number, size: number): Promise<Setup> {
  if (kind === 'world-clip') {
    const config = parseClipTextConfig(WORLD_TEXT_ENCODER);
    const shapes = clipTextWeightShapes(config, false);
    const model = CLIPTextModel.fromWeights(config, randomHostWeights(shapes, 7), { trainable: true });
    const tokens = config.maxPositionEmbeddings;
    const ids = tf.tensor2d(randomInts(batch * tokens, 21, config.vocabSize), [batch, tokens], 'int32');
    const target = randomTensor([batch, tokens, config.hiddenSize], 22);
    const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(model.encode(ids, { validateIds: false }), target))) as tf.Scalar);
    return { loss, trainable: [...model.parameters().values()], params: parameterCount(shapes), shapes, dispose: () => (model.dispose(), tf.dispose([ids, target])) };
  }
  if (kind === 'world-unet') {
    const config = parseUNetConfig(WORLD_UNET);
    const shapes = UNet2DConditionModel.expectedWeightShapes(config);
    const unet = UNet2DConditionModel.fromWeights(config, randomHostWeights(shapes, 7), { trainable: true });
    const { loss, inputs } = unetLoss(unet, batch, size, 16);
    return { loss, trainable: [...unet.parameters().values()], params: parameterCount(shapes), shapes, dispose: () => (unet.dispose(), tf.dispose(inputs)) };
  }
  const dir = tinyUNetDir();
  if (dir === undefined) throw new Error('the tiny UNet fixture (shared/fixtures/parity/unet-tiny-sd1) was not found');
  const unet = await UNet2DConditionModel.fromPretrained(dir);
  const adapter = unet.attachLora({ rank: 1, targetModules: ['attn2.to_k', 'attn2.to_v'], seed: 0 });
  const { loss, inputs } = unetLoss(unet, batch, size, 77);
  const shapes = unet.expectedWeightShapes();
  return { loss, trainable: [...adapter.variables], params: parameterCount(shapes), shapes, dispose: () => (unet.dispose(), tf.dispose(inputs)) };
}

function digest(shapes: ReadonlyMap<string, readonly number[]>): string {
  const lines = [...shapes].map(([k, s]) => `${k}:${s.join(',')}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

async function main(): Promise<void> {
  const kind = (optionString('case') ?? 'world-unet') as TrainCase;
  const backend = (optionString('backend') ?? 'wasm') as 'wasm' | 'cpu';
  const batch = optionNumber('batch', kind === 'lora' ? 16 : 32);
  const size = optionNumber('size', kind === 'lora' ? 16 : 12);
  const warmup = optionNumber('warmup', 2);
  const steps = optionNumber('steps', 10);
  const forwards = optionNumber('forwards', 3);
  await ensureGradients();
  const info = backend === 'wasm' ? await useBackend('wasm', { threads: optionNumber('threads', 1), warn: (m) => console.error(m) }) : await useBackend('cpu');
  const heapBeforeBytes = wasmHeapBytes();
  const setup = await setUp(kind, batch, size);
  const optimizer = new BenchAdamW(setup.trainable);
  const optimizerTimes: number[] = [];
  const tensorsAfterSteps: number[] = [];
  let finiteLoss = true;
  const step = (): void => {
    const { value, grads } = tf.variableGrads(setup.loss, setup.trainable);
    const start = performance.now();
    optimizer.step(grads);
    optimizerTimes.push(performance.now() - start);
    finiteLoss &&= Number.isFinite(value.dataSync()[0]);
    tf.dispose([value, ...Object.values(grads)]);
    tensorsAfterSteps.push(tf.memory().numTensors);
  };
  const stepMs = await timeRuns(step, warmup, steps);
  const forwardMs = median(await timeRuns(() => tf.tidy(() => setup.loss().dataSync()), 0, forwards));
  let extra: Pick<TrainResult, 'kernels' | 'kernelsByShape' | 'peakTensorBytes'> = {};
  if (optionFlag('profile')) {
    const profile = await tf.profile(step);
    const tally = (key: (k: (typeof profile.kernels)[number]) => string): KernelShare[] => {
      const map = new Map<string, KernelShare>();
      for (const k of profile.kernels) {
        const name = key(k);
        const prev = map.get(name) ?? { kernel: name, ms: 0, calls: 0 };
        map.set(name, { kernel: name, ms: prev.ms + (k.kernelTimeMs as number), calls: prev.calls + 1 });
      }
      return [...map.values()].sort((a, b) => b.ms - a.ms);
    };
    extra = {
      kernels: tally((k) => k.name),
      kernelsByShape: tally((k) => `${k.name} ${k.inputShapes.map((s) => `[${s?.join('×') ?? ''}]`).join(' ')}`).slice(0, 12),
      peakTensorBytes: profile.peakBytes,
    };
  }
  const result: TrainResult = {
    case: kind,
    backend: info.name,
    threads: info.threads,
    params: setup.params,
    trainableParams: setup.trainable.reduce((n, v) => n + v.size, 0),
    keysDigest: digest(setup.shapes),
    stepMs,
    medianStepMs: median(stepMs),
    forwardMs,
    optimizerMs: median(optimizerTimes.slice(warmup, warmup + steps)),
    heapBeforeBytes,
    heapBytes: wasmHeapBytes(),
    tensorsAfterSteps: tensorsAfterSteps.slice(0, warmup + steps),
    finiteLoss,
    ...extra,
  };
  optimizer.dispose();
  setup.dispose();
  emitResult(result);
}

try {
  await main();
} catch (error) {
  emitResult({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), heapBytes: wasmHeapBytes() });
}
