/**
 * Trains the world's text encoder and UNet on fresh procedural images. Stage 1 (`textPretrainSteps` > 0, the
 * default): the encoder alone (pretrain-text-encoder.ts), then frozen. Stage 2: the recipe of docs/shapes-world.md
 * (DDPM ε-prediction, uniform t, 10% empty captions, AdamW with warm-up, gradient-norm clip, EMA) on the UNet — or on
 * UNet and encoder together when `textPretrainSteps` is 0 (the prototype's joint recipe).
 *
 * Notation (Ho et al. 2020; diffusers names in brackets), per step k = 1 … K with batch B:
 *   x₀ = pixel_unshuffle(images) ∈ ℝ^{B×12×12×12}, captions c_b ("" with probability p_∅ = 0.1)
 *   t_b ~ U{0 … 999}, ε ~ N(0, I),  x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε                  [DDPMScheduler.add_noise]
 *   L = mean (ε_θ(x_t, t, E_φ(c)) − ε)²  over θ (UNet), and φ (text encoder) too in the joint recipe
 *   g ← g · min(1, G / (‖g‖₂ + 10⁻⁶)), ‖g‖₂ over every gradient      [clip_grad_norm_, G = 1]
 *   η_k = η · min(1, k / W)  (linear warm-up over W steps, then constant); AdamW(η_k, λ) (adamw.ts)
 *   EMA: θ̄ ← d_k θ̄ + (1 − d_k) θ, d_k = min(d, (1 + k) / (10 + k))    [diffusers EMAModel, d = 0.999]
 * Step k draws everything from its own stream Rng(seed · 2²¹ + k) (images, captions, dropouts, t, ε), so a run
 * resumed from a checkpoint after step k continues exactly as the uninterrupted run would.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AbortedError,
  ensureGradients,
  InvalidOptionError,
  reportProgress,
  Rng,
  type LongRunningOptions,
} from '@erase/core';
import { CLIPTokenizer, DDPMScheduler, registerWasmTrainingKernels, type CLIPTextModel, type UNet2DConditionModel } from '@erase/sd';
import { shapesWorldTokenizerDir } from '../assets';
import { PixelUnshuffleCodec } from '../codec/pixel-unshuffle';
import { TEXT_ENCODER_CONFIG, TRAINING_SCHEDULER_CONFIG, UNET_CONFIG } from '../model/configs';
import { initTextEncoder, initUNet } from '../model/init';
import { AdamW } from '@erase/core';
import { loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';
import { GradientWorkers } from './gradient-workers';
import { pretrainTextEncoder, type PretrainTextEncoderResult } from './pretrain-text-encoder';
import { drawBatch, shardGradients, shardSizes, sliceBatch, type ShardModels, type StepBatch } from './shard-gradients';

/** Captions per step of the text pre-training stage. */
const TEXT_PRETRAIN_BATCH = 128;

/** Hyper-parameters of a run (what a checkpoint records; defaults: the recipe). */
export interface ShapesWorldTrainingSettings {
  /** Total optimisation steps K (default 10,000). */
  readonly steps: number;
  /** Images per step B (default 32). */
  readonly batchSize: number;
  /** Peak learning rate η (default 1e-3). */
  readonly learningRate: number;
  /** Linear warm-up steps W (default 200). */
  readonly warmupSteps: number;
  /** AdamW decoupled weight decay λ (default 0.01). */
  readonly weightDecay: number;
  /** Global gradient-norm clip G (default 1; 0 disables). */
  readonly maxGradNorm: number;
  /** EMA decay d (default 0.999). */
  readonly emaDecay: number;
  /** Probability p_∅ that a caption is replaced by "" (default 0.1). */
  readonly emptyCaptionProbability: number;
  /** Seed of the initial weights and of every step's data (an integer in [0, 2³²); default 0). */
  readonly seed: number;
  /** Loss-curve window: one mean loss per this many steps (default 100). */
  readonly curveEvery: number;
  /** Testing aid: every step reuses step 1's images, captions, timesteps and noise (default false). */
  readonly repeatFirstBatch: boolean;
  /**
   * Steps of the text pre-training stage (pretrain-text-encoder.ts) run before the UNet stage; the encoder is then
   * frozen, as SD's CLIP is. 0: the encoder trains jointly with the UNet (the prototype's recipe; default 500).
   */
  readonly textPretrainSteps: number;
  /** Weight of the word-identity loss in the text pre-training stage (default 0.03). */
  readonly textPretrainWordWeight: number;
  /**
   * Data parallelism S of the UNet stage: each batch is split into S contiguous shards, shard 0 computed on the
   * calling thread and the others on S − 1 worker threads (each with its own tfjs backend, one wasm thread), and
   * their gradients averaged with weights n_s / B (shard-gradients.ts). 1: everything on the calling thread. The
   * result depends on S only through float rounding, but bit-for-bit reproduction needs the same S (default 1; the
   * shipped weights were trained with 2, the default of scripts/train-world.ts).
   */
  readonly workers: number;
  /** transformers `config.json` of the text encoder (default `TEXT_ENCODER_CONFIG`). */
  readonly textEncoderConfig: Readonly<Record<string, unknown>>;
  /** diffusers `config.json` of the UNet (default `UNET_CONFIG`); in/out channels 12, sample size = image size / 2. */
  readonly unetConfig: Readonly<Record<string, unknown>>;
}

/** Options of `trainShapesWorld`. */
export interface TrainShapesWorldOptions extends LongRunningOptions, Partial<ShapesWorldTrainingSettings> {
  /** Folder for resumable checkpoints (`checkpoint.json` + the `checkpoint-<step>.safetensors` it names); none written when absent. */
  readonly checkpointDir?: string;
  /** Write a checkpoint every this many steps (default 500; 0: only at the end and on abort). Needs `checkpointDir`. */
  readonly checkpointEvery?: number;
  /**
   * Resume from the checkpoint in this folder. The run's settings come from the checkpoint; only `steps` (to extend
   * or shorten the run) and `workers` (float rounding from there on differs) may be given with another value, and
   * any other explicitly given setting must equal the checkpoint's.
   */
  readonly resumeFrom?: string;
  /**
   * Wall-clock budget of this call in seconds: after the first step that ends past it, training stops early (a
   * normal return with `stepsDone < settings.steps`; the learning rate is constant after warm-up, so an early stop
   * changes nothing else). Default: none.
   */
  readonly maxSeconds?: number;
}

/** What `trainShapesWorld` returns; the caller owns both models (call `dispose()`). */
export interface TrainShapesWorldResult {
  /** The text encoder holding the EMA weights (what ships). */
  readonly textEncoder: CLIPTextModel;
  /** The UNet holding the EMA weights (what ships). */
  readonly unet: UNet2DConditionModel;
  /** The resolved settings. */
  readonly settings: ShapesWorldTrainingSettings;
  /** Steps already done when this call started (0 for a fresh run). */
  readonly startStep: number;
  /** Steps done when this call returned (`settings.steps`, or fewer after a `maxSeconds` stop). */
  readonly stepsDone: number;
  /** Loss of each step this call ran (steps startStep + 1 … stepsDone), measured before its update. */
  readonly losses: Float32Array;
  /** Mean loss per `curveEvery` steps over the whole run (resumed parts included); the last entry may be partial. */
  readonly lossCurve: readonly { readonly step: number; readonly loss: number }[];
  /** Training seconds over the whole run (resumed parts included). */
  readonly seconds: number;
  /** Figures of the text pre-training stage, when this call ran it (a fresh run with `textPretrainSteps` > 0). */
  readonly textPretrain?: PretrainTextEncoderResult;
}

const STAGE = 'train.shapes-world';
/** Most data-parallel shards per batch (one per core is the point; more only adds copies of the models). */
const MAX_WORKERS = 16;
/** Steps per run are below 2²¹ so that seed · 2²¹ + k stays a safe integer. */
const MAX_STEPS = 2 ** 21 - 1;

/**
 * Trains (or resumes training of) the ShapesWorld text encoder + UNet on the current tfjs backend. Use wasm for
 * real runs (`useBackend('wasm', { threads })` from @erase/sd; this function also registers the wasm training
 * kernels when wasm is active); tfjs-cpu is ~100× slower and only suits tests on tiny configs.
 * Reports `{ stage: 'train.shapes-world', step, total, metrics: { loss, lr, gradNorm } }` after every step and checks
 * `signal` before each; on abort it writes a checkpoint of the last finished step (when `checkpointDir` is set)
 * and throws AbortedError. No tensor leaks: `tf.memory().numTensors` is the same after every step, and afterwards
 * only the returned models' variables remain.
 * @throws InvalidOptionError for a bad option or a resume with conflicting settings; FileFormatError for a bad
 *   checkpoint; AbortedError when aborted
 */
export async function trainShapesWorld(options: TrainShapesWorldOptions = {}): Promise<TrainShapesWorldResult> {
  const checkpoint = options.resumeFrom !== undefined ? loadCheckpoint(options.resumeFrom) : undefined;
  const settings = resolveSettings(options, checkpoint?.state.settings);
  const checkpointEvery = options.checkpointEvery ?? 500;
  checkInteger('checkpointEvery', checkpointEvery, 0);
  const maxSeconds = options.maxSeconds ?? Infinity;
  if (!(maxSeconds > 0)) throw new InvalidOptionError({ option: 'maxSeconds', expected: 'a positive number of seconds', received: maxSeconds });
  await ensureGradients();
  if (tf.getBackend() === 'wasm') registerWasmTrainingKernels();

  const tokenizer = CLIPTokenizer.fromPretrained(shapesWorldTokenizerDir());
  const initRng = new Rng(settings.seed);
  const textEncoder = initTextEncoder(settings.textEncoderConfig, { seed: initRng.nextUint32() });
  let unet: UNet2DConditionModel | undefined;
  const owned: tf.Variable[] = [];
  let optimizer: AdamW | undefined;
  let textPretrain: PretrainTextEncoderResult | undefined;
  let pool: GradientWorkers | undefined;
  try {
    unet = initUNet(settings.unetConfig, { seed: initRng.nextUint32() });
    if (tokenizer.vocabSize > textEncoder.vocabSize || tokenizer.modelMaxLength > textEncoder.maxLength) {
      throw new InvalidOptionError({
        option: 'textEncoderConfig',
        expected: `vocab_size ≥ ${tokenizer.vocabSize} and max_position_embeddings ≥ ${tokenizer.modelMaxLength} (the world tokenizer)`,
        received: `${textEncoder.vocabSize} / ${textEncoder.maxLength}`,
      });
    }
    if (unet.inChannels !== 12 || unet.config.outChannels !== 12 || unet.contextDim !== textEncoder.hiddenSize) {
      throw new InvalidOptionError({
        option: 'unetConfig',
        expected: `in/out channels 12 (pixel-unshuffled RGB) and cross_attention_dim ${textEncoder.hiddenSize} (the text width)`,
        received: `${unet.inChannels}/${unet.config.outChannels}, ${unet.contextDim}`,
      });
    }
    // stage 1 (a fresh run only: a resumed run restores the pre-trained encoder from its checkpoint)
    const frozenText = settings.textPretrainSteps > 0;
    if (frozenText && checkpoint === undefined) {
      textPretrain = await pretrainTextEncoder(textEncoder, tokenizer, {
        steps: settings.textPretrainSteps,
        batchSize: TEXT_PRETRAIN_BATCH,
        learningRate: settings.learningRate,
        wordWeight: settings.textPretrainWordWeight,
        emptyCaptionProbability: settings.emptyCaptionProbability,
        seed: initRng.nextUint32(),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    }
    if (frozenText) for (const [, v] of textEncoder.parameters()) v.trainable = false;
    // every weight, keyed `text_encoder/<name>` / `unet/<name>` (the checkpoint's names)
    const params = new Map<string, tf.Variable>();
    for (const [name, v] of textEncoder.parameters()) params.set(`text_encoder/${name}`, v);
    for (const [name, v] of unet.parameters()) params.set(`unet/${name}`, v);
    // trained weights: the UNet's, plus the encoder's when it trains jointly
    const variables = [...params].filter(([name]) => !frozenText || name.startsWith('unet/')).map(([, v]) => v);
    const ema = new Map<string, tf.Variable>();
    for (const [name, v] of params) {
      const copy = tf.tidy(() => tf.variable(tf.clone(v), false)); // θ̄ starts at θ
      owned.push(copy);
      ema.set(name, copy);
    }
    optimizer = new AdamW(variables, { weightDecay: settings.weightDecay });
    const nameOf = new Map([...params].map(([name, v]) => [v.name, name]));
    const emaPairs = [...params].filter(([, v]) => variables.includes(v)).map(([name, v]) => [ema.get(name) as tf.Variable, v] as const); // (θ̄, θ)

    let state: Omit<CheckpointState, 'settings'> = { step: 0, adamStep: 0, lossCurve: [], window: { sum: 0, count: 0 }, seconds: 0 };
    if (checkpoint) {
      restore(params, checkpoint.params, options.resumeFrom as string);
      restore(ema, checkpoint.ema, options.resumeFrom as string);
      const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
      for (const [name, v] of params) {
        const m = checkpoint.adamM.get(name);
        const s = checkpoint.adamV.get(name);
        if (m && s) moments.set(v.name, { m: m.data as Float32Array, v: s.data as Float32Array });
      }
      optimizer.loadState(checkpoint.state.adamStep, moments);
      state = checkpoint.state;
    }
    const startStep = state.step;
    if (startStep > settings.steps) {
      throw new InvalidOptionError({ option: 'steps', expected: `at least the checkpoint's ${startStep} steps`, received: settings.steps });
    }

    const models: ShardModels = { textEncoder, unet, codec: new PixelUnshuffleCodec(), scheduler: DDPMScheduler.fromConfig(TRAINING_SCHEDULER_CONFIG), frozenText };
    if (settings.workers > 1 && startStep < settings.steps) {
      // the worker threads start from the weights as they are now (fresh, pre-trained or restored)
      const trained = [...params].filter(([, v]) => variables.includes(v));
      pool = await GradientWorkers.start(settings.workers - 1, {
        backend: tf.getBackend(),
        textEncoderConfig: settings.textEncoderConfig,
        unetConfig: settings.unetConfig,
        params: [...params].map(([name, v]) => ({ name, data: v.dataSync() as Float32Array })),
        trained: trained.map(([name]) => name),
        frozenText,
      });
    }
    const imageSize = 2 * unet.sampleSize;
    const tokens = tokenizer.modelMaxLength;
    const lossCurve = [...state.lossCurve];
    let windowSum = state.window.sum;
    let windowCount = state.window.count;
    const losses = new Float32Array(settings.steps - startStep);
    const started = performance.now();
    const secondsNow = (): number => state.seconds + (performance.now() - started) / 1000;

    const save = async (step: number): Promise<void> => {
      if (options.checkpointDir === undefined) return;
      const moments = (optimizer as AdamW).moments();
      const adamM = new Map<string, tf.Tensor>();
      const adamV = new Map<string, tf.Tensor>();
      for (const [vname, { m, v }] of moments) {
        const name = nameOf.get(vname) as string;
        adamM.set(name, m);
        adamV.set(name, v);
      }
      await saveCheckpoint(options.checkpointDir, { params, ema, adamM, adamV }, {
        step,
        adamStep: (optimizer as AdamW).stepCount,
        settings: settingsToJson(settings),
        lossCurve,
        window: { sum: windowSum, count: windowCount },
        seconds: secondsNow(),
      });
    };

    let firstBatch: StepBatch | undefined;
    let stepsDone = startStep;
    for (let step = startStep + 1; step <= settings.steps; step++) {
      if (options.signal?.aborted) {
        await save(step - 1);
        throw new AbortedError(`trainShapesWorld (after step ${step - 1})`, { cause: options.signal.reason });
      }
      const batch = settings.repeatFirstBatch
        ? (firstBatch ??= drawBatch(settings, 1, imageSize, tokenizer, tokens))
        : drawBatch(settings, step, imageSize, tokenizer, tokens);
      const lr = settings.learningRate * (settings.warmupSteps > 0 ? Math.min(1, step / settings.warmupSteps) : 1);
      const { loss, gradNorm } = await trainStep(models, batch, variables, optimizer, emaPairs, step, settings, lr, pool);
      losses[step - startStep - 1] = loss;
      windowSum += loss;
      windowCount += 1;
      if (windowCount === settings.curveEvery) {
        lossCurve.push({ step, loss: windowSum / windowCount });
        windowSum = 0;
        windowCount = 0;
      }
      stepsDone = step;
      reportProgress(options.onProgress, { stage: STAGE, step, total: settings.steps, metrics: { loss, lr, gradNorm } });
      if ((performance.now() - started) / 1000 >= maxSeconds) break;
      // Yield to the event loop so abort signals (a script's Ctrl-C handler) and progress output can run: a
      // one-thread step awaits only already-resolved promises, which never let a signal handler in.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (checkpointEvery > 0 && step % checkpointEvery === 0 && step < settings.steps) await save(step);
    }
    await save(stepsDone);

    // ship the EMA weights: copy them into the models, free the rest
    for (const [name, v] of params) v.assign(ema.get(name) as tf.Variable);
    const curve = windowCount > 0 ? [...lossCurve, { step: stepsDone, loss: windowSum / windowCount }] : lossCurve;
    const done = losses.subarray(0, stepsDone - startStep);
    return { textEncoder, unet, settings, startStep, stepsDone, losses: done, lossCurve: curve, seconds: secondsNow(), ...(textPretrain ? { textPretrain } : {}) };
  } catch (error) {
    textEncoder.dispose();
    unet?.dispose();
    throw error;
  } finally {
    await pool?.close();
    optimizer?.dispose();
    for (const v of owned) v.dispose();
  }
}

/**
 * Forward + backward (shard 0 here, shards 1 … S − 1 on the workers) + clip + AdamW + EMA for one batch; returns the
 * loss (before the update) and ‖g‖₂.
 */
async function trainStep(
  models: ShardModels,
  batch: StepBatch,
  variables: tf.Variable[],
  optimizer: AdamW,
  ema: readonly (readonly [tf.Variable, tf.Variable])[],
  step: number,
  settings: ShapesWorldTrainingSettings,
  lr: number,
  parallel: GradientWorkers | undefined,
): Promise<{ loss: number; gradNorm: number }> {
  const sizes = shardSizes(batch.batchSize, parallel ? parallel.size + 1 : 1); // n_s, Σ n_s = B
  const starts = sizes.map((_, s) => sizes.slice(0, s).reduce((a, n) => a + n, 0));
  // the workers start on their shards first, then this thread computes shard 0 while they run
  const others = parallel?.compute(sizes.slice(1).map((n, s) => sliceBatch(batch, starts[s + 1] as number, n)));
  others?.catch(() => undefined); // awaited below; this only keeps a failure during shard 0 from going unhandled
  const own = shardGradients(models, sizes.length === 1 ? batch : sliceBatch(batch, 0, sizes[0] as number), variables);
  let { value, grads } = own;
  try {
    if (others) {
      const results = await others;
      const w = sizes.map((n) => n / batch.batchSize); // n_s / B
      const combined = tf.tidy(() => {
        let offset = 0;
        const out: tf.NamedTensorMap = {};
        for (const v of variables) {
          let g = tf.mul(grads[v.name] as tf.Tensor, w[0] as number); // (n₀/B) ∇L₀, shape of v
          results.forEach((r, s) => {
            g = tf.add(g, tf.mul(tf.tensor(r.grads.subarray(offset, offset + v.size), v.shape, 'float32'), w[s + 1] as number)); // + (n_s/B) ∇L_s
          });
          out[v.name] = g;
          offset += v.size;
        }
        const loss = results.reduce((acc, r, s) => acc + (w[s + 1] as number) * r.loss, (w[0] as number) * (value.dataSync()[0] as number)); // L = Σ (n_s/B) L_s
        return { out, loss: tf.scalar(loss) };
      });
      tf.dispose([value, ...Object.values(grads)]);
      value = combined.loss;
      grads = combined.out;
    }
    const normTensor = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))))); // ‖g‖₂ []
    const [lossValue, gradNorm] = [(await value.data())[0] as number, (await normTensor.data())[0] as number];
    normTensor.dispose();
    if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm)) {
      throw new InvalidOptionError({ option: 'learningRate', expected: 'a setting under which the loss stays finite', received: `loss ${lossValue}, ‖g‖ ${gradNorm} at step ${step}` });
    }
    const scale = settings.maxGradNorm > 0 ? Math.min(1, settings.maxGradNorm / (gradNorm + 1e-6)) : 1;
    if (scale < 1) {
      for (const [name, g] of Object.entries(grads)) {
        grads[name] = tf.mul(g, scale); // clipped g, same shape
        g.dispose();
      }
    }
    optimizer.step(grads, lr);
    const decay = Math.min(settings.emaDecay, (1 + step) / (10 + step));
    tf.tidy(() => {
      for (const [e, p] of ema) e.assign(tf.add(tf.mul(e, decay), tf.mul(p, 1 - decay))); // d θ̄ + (1 − d) θ
    });
    if (parallel) parallel.broadcast(flatten(variables)); // the workers' copies follow the update
    return { loss: lossValue, gradNorm };
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}

/** The variables' values end to end (float32). */
function flatten(variables: readonly tf.Variable[]): Float32Array {
  const out = new Float32Array(variables.reduce((a, v) => a + v.size, 0));
  let offset = 0;
  for (const v of variables) {
    out.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  return out;
}

/** Copies checkpoint values into variables. @throws InvalidOptionError naming a missing or mis-sized tensor */
function restore(target: ReadonlyMap<string, tf.Variable>, saved: ReadonlyMap<string, { data: Float32Array | Int32Array }>, dir: string): void {
  for (const [name, v] of target) {
    const host = saved.get(name);
    if (host === undefined || host.data.length !== v.size) {
      throw new InvalidOptionError({ option: 'resumeFrom', expected: `a checkpoint of this model (${name}: ${v.size} values) in ${dir}`, received: host === undefined ? 'missing' : `${host.data.length} values` });
    }
  }
  for (const [name, v] of target) {
    const host = saved.get(name) as { data: Float32Array };
    tf.tidy(() => v.assign(tf.tensor(host.data, v.shape, 'float32')));
  }
}

const DEFAULTS: ShapesWorldTrainingSettings = {
  steps: 10_000,
  batchSize: 32,
  learningRate: 1e-3,
  warmupSteps: 200,
  weightDecay: 0.01,
  maxGradNorm: 1,
  emaDecay: 0.999,
  emptyCaptionProbability: 0.1,
  textPretrainSteps: 500,
  textPretrainWordWeight: 0.03,
  workers: 1,
  seed: 0,
  curveEvery: 100,
  repeatFirstBatch: false,
  textEncoderConfig: TEXT_ENCODER_CONFIG,
  unetConfig: UNET_CONFIG,
};

/** The default settings (the recipe). */
export const SHAPES_WORLD_TRAINING_DEFAULTS: Readonly<ShapesWorldTrainingSettings> = Object.freeze({ ...DEFAULTS });

const KEYS = Object.keys(DEFAULTS) as (keyof ShapesWorldTrainingSettings)[];

function settingsToJson(s: ShapesWorldTrainingSettings): Record<string, unknown> {
  return Object.fromEntries(KEYS.map((k) => [k, s[k]]));
}

/** Options + defaults (or the checkpoint's settings), validated. */
function resolveSettings(options: TrainShapesWorldOptions, fromCheckpoint: Readonly<Record<string, unknown>> | undefined): ShapesWorldTrainingSettings {
  const base: Record<string, unknown> = { ...DEFAULTS };
  if (fromCheckpoint) {
    // checkpoints written before the text pre-training stage existed trained the encoder jointly
    if (fromCheckpoint.textPretrainSteps === undefined) base.textPretrainSteps = 0;
    // … and on one thread
    if (fromCheckpoint.workers === undefined) base.workers = 1;
    for (const key of KEYS) {
      if (fromCheckpoint[key] !== undefined) base[key] = fromCheckpoint[key];
      const given = options[key];
      if (key !== 'steps' && key !== 'workers' && given !== undefined && JSON.stringify(given) !== JSON.stringify(base[key])) {
        throw new InvalidOptionError({ option: key, expected: `the resumed checkpoint's value ${JSON.stringify(base[key])} (or leave it out)`, received: given });
      }
    }
  }
  for (const key of KEYS) if (options[key] !== undefined) base[key] = options[key];
  const s = base as unknown as ShapesWorldTrainingSettings;
  checkInteger('steps', s.steps, 1, MAX_STEPS);
  checkInteger('batchSize', s.batchSize, 1);
  checkInteger('warmupSteps', s.warmupSteps, 0);
  checkInteger('seed', s.seed, 0, 2 ** 32 - 1);
  checkInteger('curveEvery', s.curveEvery, 1);
  checkInteger('textPretrainSteps', s.textPretrainSteps, 0);
  checkInteger('workers', s.workers, 1, Math.max(1, Math.min(s.batchSize, MAX_WORKERS)));
  if (!(s.textPretrainWordWeight >= 0 && Number.isFinite(s.textPretrainWordWeight))) throw new InvalidOptionError({ option: 'textPretrainWordWeight', expected: 'a finite number ≥ 0', received: s.textPretrainWordWeight });
  if (!(Number.isFinite(s.learningRate) && s.learningRate > 0)) throw new InvalidOptionError({ option: 'learningRate', expected: 'a positive number', received: s.learningRate });
  if (!(s.weightDecay >= 0 && Number.isFinite(s.weightDecay))) throw new InvalidOptionError({ option: 'weightDecay', expected: 'a finite non-negative number', received: s.weightDecay });
  if (!(s.maxGradNorm >= 0)) throw new InvalidOptionError({ option: 'maxGradNorm', expected: 'a non-negative number (0 disables clipping)', received: s.maxGradNorm });
  if (!(s.emaDecay >= 0 && s.emaDecay < 1)) throw new InvalidOptionError({ option: 'emaDecay', expected: 'a number in [0, 1)', received: s.emaDecay });
  if (!(s.emptyCaptionProbability >= 0 && s.emptyCaptionProbability <= 1)) {
    throw new InvalidOptionError({ option: 'emptyCaptionProbability', expected: 'a probability in [0, 1]', received: s.emptyCaptionProbability });
  }
  if (typeof s.repeatFirstBatch !== 'boolean') throw new InvalidOptionError({ option: 'repeatFirstBatch', expected: 'a boolean', received: s.repeatFirstBatch });
  return s;
}

function checkInteger(option: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidOptionError({ option, expected: `an integer in [${min}, ${max}]`, received: value });
  }
}
