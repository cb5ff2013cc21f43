/**
 * Text-to-image sampling with classifier-free guidance — diffusers' StableDiffusionPipeline.__call__,
 * written against @erase/core's interfaces, so it runs any `DiffusionModel` (a real SD checkpoint or the
 * embedded world).
 *
 * Notation (Ho & Salimans 2022, classifier-free guidance):
 *   z_T ~ N(0, σ_init² I)                 initial latents, [B, h, w, C]
 *   E_c = textEncoder(prompt), E_∅ = textEncoder(negativePrompt or "")   [B, T, D]
 *   ε̃ = ε_θ(z_t, t, E_∅) + g · (ε_θ(z_t, t, E_c) − ε_θ(z_t, t, E_∅))     g = guidanceScale
 *   z_{t−1} = scheduler.step(ε̃, t, z_t)
 *   x = decode(z_0 / scalingFactor), mapped from [-1, 1] to [0, 1]
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  InvalidOptionError,
  Rng,
  ShapeMismatchError,
  reportProgress,
  throwIfAborted,
  type DiffusionModel,
  type LongRunningOptions,
  type Scheduler,
} from '@erase/core';

/** Options of `textToImage`. */
export interface TextToImageOptions extends LongRunningOptions {
  /** One prompt or one per image. */
  readonly prompt: string | readonly string[];
  /** Negative prompt(s) for the unconditional branch; default `""`. */
  readonly negativePrompt?: string | readonly string[];
  /** Denoising steps (default 50, as diffusers). */
  readonly numInferenceSteps?: number;
  /** Classifier-free guidance scale g (default: the model's). g ≤ 1 disables the unconditional branch. */
  readonly guidanceScale?: number;
  /** Images per prompt (default 1). */
  readonly numImagesPerPrompt?: number;
  /** Seed for the initial latents (default 0). Ignored when `latents` is given. */
  readonly seed?: number;
  /** Initial latents [B, h, w, C] (not scaled by σ_init; the pipeline scales them as diffusers does). Not disposed. */
  readonly latents?: tf.Tensor4D;
  /** A scheduler to use instead of a clone of the model's. */
  readonly scheduler?: Scheduler;
  /** DDIM η (default 0). */
  readonly eta?: number;
  /** Run the conditional and unconditional branches as one batch of 2B (default true; false halves peak memory). */
  readonly batchGuidance?: boolean;
  /** Skip decoding and return latents only. */
  readonly outputType?: 'image' | 'latent';
}

/** What `textToImage` returns. The caller owns both tensors. */
export interface TextToImageResult {
  /** Images float32 [B, H, W, 3] in [0, 1] (absent for `outputType: 'latent'`). */
  readonly images?: tf.Tensor4D;
  /** Final latents z_0 [B, h, w, C] (before the codec's scaling factor is removed). */
  readonly latents: tf.Tensor4D;
}

/**
 * Generates images from prompts. Every intermediate tensor is freed; the result is the caller's.
 * @throws InvalidOptionError for a bad option, ShapeMismatchError for latents of the wrong shape,
 *   AbortedError when `signal` fires between steps.
 */
export async function textToImage(model: DiffusionModel, options: TextToImageOptions): Promise<TextToImageResult> {
  const prompts = typeof options.prompt === 'string' ? [options.prompt] : [...options.prompt];
  if (prompts.length === 0) throw new InvalidOptionError({ option: 'prompt', expected: 'at least one prompt', received: prompts });
  const perPrompt = options.numImagesPerPrompt ?? 1;
  positiveInteger('numImagesPerPrompt', perPrompt);
  const steps = options.numInferenceSteps ?? 50;
  positiveInteger('numInferenceSteps', steps);
  const guidance = options.guidanceScale ?? model.defaultGuidanceScale;
  if (!Number.isFinite(guidance)) throw new InvalidOptionError({ option: 'guidanceScale', expected: 'a finite number', received: guidance });
  const negatives = expandNegatives(options.negativePrompt, prompts.length);
  const batchPrompts = prompts.flatMap((p) => new Array<string>(perPrompt).fill(p));
  const batchNegatives = negatives.flatMap((p) => new Array<string>(perPrompt).fill(p));
  const batch = batchPrompts.length;
  const [h, w, c] = model.latentShape;
  const useGuidance = guidance > 1;
  const eta = options.eta ?? 0;
  if (typeof eta !== 'number' || !(eta >= 0 && eta <= 1)) throw new InvalidOptionError({ option: 'eta', expected: 'a number in [0, 1]', received: eta });
  if (options.latents && !sameShape(options.latents.shape, [batch, h, w, c])) {
    throw new ShapeMismatchError({ what: 'latents', expected: [batch, h, w, c], received: options.latents.shape });
  }
  const rng = options.latents ? undefined : new Rng(options.seed ?? 0); // validates the seed before any tensor exists

  // our clone is ours to free (multistep schedulers such as PNDM keep tensors); a scheduler passed in is the caller's
  const ownScheduler = options.scheduler === undefined;
  const scheduler = options.scheduler ?? model.scheduler.clone();
  try {
    scheduler.setTimesteps(steps);
  } catch (error) {
    if (ownScheduler) scheduler.dispose?.();
    throw error;
  }
  let condContext: tf.Tensor3D | undefined;
  let uncondContext: tf.Tensor3D | undefined;
  let jointContext: tf.Tensor3D | undefined;
  let latents: tf.Tensor4D | undefined;
  try {
    condContext = model.textEncoder.encodePrompts(batchPrompts); // [B, T, D]
    uncondContext = useGuidance ? model.textEncoder.encodePrompts(batchNegatives) : undefined; // [B, T, D]
    const batchGuidance = options.batchGuidance ?? true;
    jointContext = useGuidance && batchGuidance ? (tf.concat([uncondContext as tf.Tensor3D, condContext], 0) as tf.Tensor3D) : undefined; // [2B, T, D]
    latents = tf.tidy(() => {
      const initial = options.latents ?? ((rng as Rng).normalTensor([batch, h, w, c]) as tf.Tensor4D); // [B, h, w, C]
      return tf.mul(initial, scheduler.initNoiseSigma) as tf.Tensor4D; // [B, h, w, C]
    });
    const timesteps = scheduler.timesteps;
    for (let i = 0; i < timesteps.length; i++) {
      throwIfAborted(options.signal, 'textToImage');
      const t = timesteps[i] as number;
      const current = latents;
      const noisePred = tf.tidy(() => predictGuided(model, scheduler, current, t, guidance, condContext as tf.Tensor3D, uncondContext, jointContext)); // [B, h, w, C]
      let out: ReturnType<typeof scheduler.step>;
      try {
        out = scheduler.step(noisePred, t, latents, { eta });
      } finally {
        noisePred.dispose();
      }
      out.predOriginalSample?.dispose();
      latents.dispose();
      latents = out.prevSample as tf.Tensor4D;
      reportProgress(options.onProgress, { stage: 'pipeline.denoise', step: i + 1, total: timesteps.length });
      // Yield to the event loop so abort signals and progress bars can run.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (error) {
    latents?.dispose();
    throw error;
  } finally {
    condContext?.dispose();
    uncondContext?.dispose();
    jointContext?.dispose();
    if (ownScheduler) scheduler.dispose?.();
  }

  const final = latents;
  if (options.outputType === 'latent') return { latents: final };
  try {
    const images = tf.tidy(() => {
      const scaled = tf.div(final, model.codec.scalingFactor) as tf.Tensor4D; // [B, h, w, C]
      const decoded = model.codec.decode(scaled); // [B, H, W, 3] in ~[-1, 1]
      return tf.clipByValue(tf.add(tf.mul(decoded, 0.5), 0.5), 0, 1) as tf.Tensor4D; // [B, H, W, 3] in [0, 1]
    });
    return { images, latents: final };
  } catch (error) {
    final.dispose();
    throw error;
  }
}

function predictGuided(
  model: DiffusionModel,
  scheduler: Scheduler,
  latents: tf.Tensor4D,
  t: number,
  guidance: number,
  condContext: tf.Tensor3D,
  uncondContext: tf.Tensor3D | undefined,
  jointContext: tf.Tensor3D | undefined,
): tf.Tensor4D {
  const input = scheduler.scaleModelInput(latents, t) as tf.Tensor4D; // [B, h, w, C]
  if (!uncondContext) return model.unet.predict(input, t, condContext); // [B, h, w, C]
  let epsUncond: tf.Tensor4D;
  let epsCond: tf.Tensor4D;
  if (jointContext) {
    const doubled = tf.concat([input, input], 0) as tf.Tensor4D; // [2B, h, w, C]
    const eps = model.unet.predict(doubled, t, jointContext); // [2B, h, w, C]
    [epsUncond, epsCond] = tf.split(eps, 2, 0) as [tf.Tensor4D, tf.Tensor4D]; // 2 × [B, h, w, C]
  } else {
    epsUncond = model.unet.predict(input, t, uncondContext); // [B, h, w, C]
    epsCond = model.unet.predict(input, t, condContext); // [B, h, w, C]
  }
  return tf.add(epsUncond, tf.mul(tf.sub(epsCond, epsUncond), guidance)) as tf.Tensor4D; // [B, h, w, C]
}

function expandNegatives(negative: string | readonly string[] | undefined, count: number): string[] {
  if (negative === undefined) return new Array<string>(count).fill('');
  if (typeof negative === 'string') return new Array<string>(count).fill(negative);
  if (negative.length !== count) {
    throw new InvalidOptionError({
      option: 'negativePrompt',
      expected: `one negative prompt or ${count} (one per prompt)`,
      received: negative,
    });
  }
  return [...negative];
}

function positiveInteger(option: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InvalidOptionError({ option, expected: 'a positive integer', received: value });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
