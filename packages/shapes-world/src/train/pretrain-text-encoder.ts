/**
 * Stage 1 of the world's "frozen encoder" recipe: trains the CLIP text encoder alone, before the UNet sees it, so
 * that — like SD's frozen CLIP — its states separate every word it was given, and the UNet later learns to draw a
 * class from each of several *different* encodings of it. (Trained jointly with the UNet, the encoder collapses a
 * class and its synonyms onto one vector, cos 0.99 at the end tokens, and a word-level erasure of the class then
 * erases the synonyms too: no concept residue. See docs/shapes-world/README.md.)
 *
 * Notation, per step k with batch B of captions c_b (random templates, class word or synonym, colour and
 * background as in training; "" with probability p_∅):
 *   p_b = E_φ(c_b)[first end token]  ∈ ℝ^D                 (CLIP's pooled output)
 *   logits = p_b W_h + b_h for four linear heads h:
 *     class  (10 classes + "none" for ""),           y_class
 *     word   (the 40 shape words + "none"),         y_word      (class word vs each synonym: distinct targets)
 *     colour (8 colours + "none" when not said),    y_colour
 *     background (4 + "none"),                      y_bg
 *   L = CE_class + w_word · CE_word + CE_colour + CE_bg           (mean over the batch)
 * AdamW(η · min(1, k / W), λ) on φ and the heads, gradient-norm clip G. The heads are thrown away afterwards.
 * w_word sets how far a synonym sits from its class word: 0 leaves word identity unconstrained (class only), large values push
 * every word apart; the default keeps them nearer to their own class than to any other class (measured by
 * `measureTextGeometry`). Step k draws from Rng(seed · 2²¹ + k), so the stage is deterministic from its seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AbortedError, AdamW, clipGlobalNorm, ensureGradients, InvalidOptionError, reportProgress, Rng, type LongRunningOptions } from '@erase/core';
import type { CLIPTextModel, CLIPTokenizer } from '@erase/sd';
import { BACKGROUNDS, CAPTION_TEMPLATES, FILL_COLORS, SHAPE_CLASSES } from '../world/vocabulary';
import { fillTemplate } from '../world/captions';

/** Settings of the text pre-training stage. */
export interface TextPretrainSettings {
  /** Optimisation steps (0 skips the stage). */
  readonly steps: number;
  /** Captions per step. */
  readonly batchSize: number;
  /** Peak learning rate η. */
  readonly learningRate: number;
  /** Weight w_word of the word-identity loss. */
  readonly wordWeight: number;
  /** Probability of an empty caption. */
  readonly emptyCaptionProbability: number;
  /** Seed of the heads and of every step's captions. */
  readonly seed: number;
}

/** Options of `pretrainTextEncoder`. */
export interface PretrainTextEncoderOptions extends LongRunningOptions, TextPretrainSettings {}

/** What `pretrainTextEncoder` returns. */
export interface PretrainTextEncoderResult {
  /** Mean loss over the first and the last 10% of the steps. */
  readonly firstLoss: number;
  readonly lastLoss: number;
  /** Accuracy of the word head over the last 10% of the steps (fraction of non-empty captions). */
  readonly wordAccuracy: number;
}

const STAGE = 'train.shapes-world.text';
const N_CLASS = SHAPE_CLASSES.length + 1;
const N_WORD = SHAPE_CLASSES.length * 4 + 1;
const N_COLOR = FILL_COLORS.length + 1;
const N_BG = BACKGROUNDS.length + 1;
const WARMUP = 100;

/** One step's captions and their four targets. */
interface CaptionBatch {
  readonly captions: string[];
  readonly targets: [Int32Array, Int32Array, Int32Array, Int32Array];
}

/** Captions of step k from Rng(seed · 2²¹ + k). Exported for tests. */
export function drawCaptionBatch(seed: number, step: number, batchSize: number, emptyProbability: number): CaptionBatch {
  const rng = new Rng(seed * 2 ** 21 + step);
  const captions: string[] = [];
  const targets: CaptionBatch['targets'] = [new Int32Array(batchSize), new Int32Array(batchSize), new Int32Array(batchSize), new Int32Array(batchSize)];
  for (let b = 0; b < batchSize; b++) {
    const label = rng.int(SHAPE_CLASSES.length);
    const color = rng.int(FILL_COLORS.length);
    const background = rng.int(BACKGROUNDS.length);
    const template = rng.int(CAPTION_TEMPLATES.length);
    const wordIndex = rng.int(4); // 0: the class word, 1-3: a synonym (uniform over the four)
    const empty = rng.uniform() < emptyProbability;
    const shape = SHAPE_CLASSES[label] as (typeof SHAPE_CLASSES)[number];
    const word = wordIndex === 0 ? shape.name : (shape.synonyms[wordIndex - 1] as string);
    const text = CAPTION_TEMPLATES[template] as string;
    captions.push(empty ? '' : fillTemplate(template, word, { label, color, background }));
    targets[0][b] = empty ? N_CLASS - 1 : label;
    targets[1][b] = empty ? N_WORD - 1 : label * 4 + wordIndex;
    targets[2][b] = empty || !text.includes('{c}') ? N_COLOR - 1 : color;
    targets[3][b] = empty || !text.includes('{b}') ? N_BG - 1 : background;
  }
  return { captions, targets };
}

/**
 * Trains `textEncoder` in place (its variables must be trainable) and returns loss figures. Heads and optimizer
 * state are freed; `tf.memory().numTensors` is unchanged afterwards.
 * @throws InvalidOptionError for bad settings; AbortedError when aborted
 */
export async function pretrainTextEncoder(textEncoder: CLIPTextModel, tokenizer: CLIPTokenizer, options: PretrainTextEncoderOptions): Promise<PretrainTextEncoderResult> {
  const { steps, batchSize, learningRate, wordWeight, emptyCaptionProbability, seed } = options;
  if (!Number.isSafeInteger(steps) || steps < 0) throw new InvalidOptionError({ option: 'textPretrain.steps', expected: 'an integer ≥ 0', received: steps });
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidOptionError({ option: 'textPretrain.batchSize', expected: 'an integer ≥ 1', received: batchSize });
  if (!(learningRate > 0)) throw new InvalidOptionError({ option: 'textPretrain.learningRate', expected: 'a positive number', received: learningRate });
  if (!(wordWeight >= 0)) throw new InvalidOptionError({ option: 'textPretrain.wordWeight', expected: 'a number ≥ 0', received: wordWeight });
  const d = textEncoder.hiddenSize;
  const tokens = tokenizer.modelMaxLength;
  const headRng = new Rng(seed);
  const bound = 1 / Math.sqrt(d);
  const sizes = [N_CLASS, N_WORD, N_COLOR, N_BG];
  const total = sizes.reduce((a, b) => a + b, 0);
  const headData = new Float32Array(d * total);
  for (let i = 0; i < headData.length; i++) headData[i] = (2 * headRng.uniform() - 1) * bound;
  await ensureGradients();
  const headW = tf.tidy(() => tf.variable(tf.tensor2d(headData, [d, total]), true)); // W_h for all four heads [D, ΣK]
  const headB = tf.tidy(() => tf.variable(tf.zeros([total]), true)); // b_h [ΣK]
  const variables = [...[...textEncoder.parameters()].map(([, v]) => v), headW, headB];
  const optimizer = new AdamW(variables, { weightDecay: 0.01 });
  const losses: number[] = [];
  let correct = 0;
  let counted = 0;
  try {
    for (let step = 1; step <= steps; step++) {
      await new Promise<void>((resolve) => setImmediate(resolve)); // let abort signals in (see train-shapes-world.ts)
      if (options.signal?.aborted) throw new AbortedError(`pretrainTextEncoder (after step ${step - 1})`, { cause: options.signal.reason });
      const batch = drawCaptionBatch(seed, step, batchSize, emptyCaptionProbability);
      const tokenized = tokenizer.call(batch.captions, { padding: 'max_length', maxLength: tokens, truncation: true });
      const ids = tf.tensor2d(tokenized.inputIds.flat(), [batchSize, tokens], 'int32'); // [B, T]
      const targets = tf.tidy(() => batch.targets.map((t, h) => tf.oneHot(tf.tensor1d(t, 'int32'), sizes[h] as number))); // 4 × [B, K_h]
      let wordLogits: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const out = textEncoder.forward(ids, { validateIds: false }); // [B, T] -> last [B, T, D], pooled p [B, D]
        out.lastHiddenState.dispose(); // only p is used
        const logits = tf.add(tf.matMul(out.poolerOutput, headW), headB); // [B, D] x [D, ΣK] -> [B, ΣK]
        const parts = tf.split(logits, sizes, 1); // 4 × [B, K_h]
        wordLogits = tf.keep(parts[1] as tf.Tensor);
        const ce = parts.map((p, h) => tf.losses.softmaxCrossEntropy(targets[h] as tf.Tensor, p)); // 4 × []
        return tf.addN([ce[0], tf.mul(ce[1] as tf.Scalar, wordWeight), ce[2], ce[3]] as tf.Scalar[]) as tf.Scalar; // L []
      }, variables);
      clipGlobalNorm(grads, 1);
      optimizer.step(grads, learningRate * Math.min(1, step / WARMUP));
      const loss = (await value.data())[0] as number;
      losses.push(loss);
      if (step > steps * 0.9) {
        const argmax = tf.argMax(wordLogits as tf.Tensor, 1); // [B, K_word] -> [B]
        const predicted = await argmax.data();
        argmax.dispose();
        for (let b = 0; b < batchSize; b++) {
          if (batch.targets[1][b] === N_WORD - 1) continue;
          counted++;
          if (predicted[b] === batch.targets[1][b]) correct++;
        }
      }
      tf.dispose([ids, ...targets, value, wordLogits as tf.Tensor, ...Object.values(grads)]);
      reportProgress(options.onProgress, { stage: STAGE, step, total: steps, metrics: { loss } });
    }
  } finally {
    optimizer.dispose();
    headW.dispose();
    headB.dispose();
  }
  const tenth = Math.max(1, Math.floor(steps / 10));
  const meanOf = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  return { firstLoss: meanOf(losses.slice(0, tenth)), lastLoss: meanOf(losses.slice(-tenth)), wordAccuracy: counted === 0 ? NaN : correct / counted };
}
