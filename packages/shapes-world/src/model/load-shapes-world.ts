/**
 * Loads the trained ShapesWorld (the folder `saveShapesWorld` / `scripts/train-world.ts` writes, shipped as the
 * package's `weights/`) as core's `DiffusionModel`, with the oracle that scores its images. Node only.
 *
 * The bundle: textEncoder = ClipTextEncoder(CLIPTokenizer, CLIPTextModel) (T = 16, D = 64), unet =
 * UNet2DConditionModel (ε-prediction on 12×12×12 latents), scheduler = DDIM from `scheduler/scheduler_config.json`
 * (20 steps, 'leading' + offset 1, x̂₀ clipped), codec = PixelUnshuffleCodec (24×24×3 ↔ 12×12×12, scaling 1),
 * guidance from `model_index.json`'s `guidance_scale` (default 3, `WORLD_GUIDANCE_SCALE`), source `embedded:shapes-world`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileFormatError, InvalidOptionError, type DiffusionModel, type Scheduler } from '@erase/core';
import {
  ClipTextEncoder,
  CLIPTextModel,
  CLIPTokenizer,
  readJsonConfig,
  schedulerFromPretrained,
  UNet2DConditionModel,
  useBackend,
} from '@erase/sd';
import { shapesWorldTokenizerDir } from '../assets';
import { PixelUnshuffleCodec } from '../codec/pixel-unshuffle';
import { loadOracle } from '../oracle/oracle-weights';
import type { OracleClassifier } from '../oracle/oracle-cnn';
import { WORLD_GUIDANCE_SCALE } from './configs';

/** `source` of the bundle. */
export const SHAPES_WORLD_SOURCE = 'embedded:shapes-world';

/** The package's shipped weights folder (`weights/` at the package root; works from `src/` and `dist/`). */
export function shapesWorldWeightsDir(): string {
  return resolve(shapesWorldTokenizerDir(), '..', 'weights');
}

/** Options of `loadShapesWorld`. */
export interface LoadShapesWorldOptions {
  /** The weights folder (default: the package's `weights/`). */
  readonly dir?: string;
  /** Switch tfjs to this backend first (via @erase/sd's `useBackend`); default: keep the current one. */
  readonly backend?: 'cpu' | 'wasm';
  /** wasm threads (see `useBackend`). */
  readonly threads?: number;
  /** Also load the oracle from `<dir>/oracle/model.safetensors` (default true). */
  readonly oracle?: boolean;
}

/** The embedded world as a `DiffusionModel`, plus its parts and the oracle. Owns everything: call `dispose()`. */
export class ShapesWorldModel implements DiffusionModel {
  readonly source = SHAPES_WORLD_SOURCE;
  readonly textEncoder: ClipTextEncoder;
  readonly codec = new PixelUnshuffleCodec();
  readonly latentShape: readonly [number, number, number];
  readonly defaultGuidanceScale: number;

  /** @internal use `loadShapesWorld`. */
  constructor(
    /** The folder the weights came from. */
    readonly dir: string,
    readonly tokenizer: CLIPTokenizer,
    readonly textModel: CLIPTextModel,
    readonly unet: UNet2DConditionModel,
    readonly scheduler: Scheduler,
    /** The oracle classifier (images [B, 24, 24, 3] in [-1, 1] → class probabilities), when loaded. */
    readonly oracle: OracleClassifier | undefined,
    /** `model_index.json`'s `guidance_scale` (default `WORLD_GUIDANCE_SCALE`). */
    defaultGuidanceScale: number = WORLD_GUIDANCE_SCALE,
  ) {
    this.defaultGuidanceScale = defaultGuidanceScale;
    this.textEncoder = new ClipTextEncoder(tokenizer, textModel);
    this.latentShape = [unet.sampleSize, unet.sampleSize, unet.inChannels];
  }

  /** Frees the text model, the UNet and the oracle. */
  dispose(): void {
    this.textModel.dispose();
    this.unet.dispose();
    this.oracle?.dispose();
  }
}

/**
 * Loads the world from `dir` (default: the shipped `weights/`). The result is a `DiffusionModel` whose `oracle`
 * field holds the oracle (unless `oracle: false`).
 * @throws FileFormatError naming the folder when the weights are missing ("run pnpm train:shapes") or malformed,
 *   or the oracle file when it is missing ("run pnpm --filter @erase/shapes-world train-oracle");
 *   WeightKeysError / InvalidOptionError for weights that do not fit their configs; BackendUnavailableError
 */
export async function loadShapesWorld(options: LoadShapesWorldOptions = {}): Promise<ShapesWorldModel> {
  const dir = resolve(options.dir ?? shapesWorldWeightsDir());
  const missing = ['model_index.json', 'text_encoder', 'unet', 'scheduler', 'tokenizer'].filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) {
    throw new FileFormatError({
      file: dir,
      expected: 'the trained ShapesWorld weights (model_index.json, text_encoder/, unet/, scheduler/, tokenizer/)',
      problem: `${missing.join(', ')} missing — run \`pnpm train:shapes\` (packages/shapes-world: \`pnpm train-world\`) to train them`,
    });
  }
  const oraclePath = join(dir, 'oracle', 'model.safetensors');
  const wantOracle = options.oracle ?? true;
  if (wantOracle && !existsSync(oraclePath)) {
    throw new FileFormatError({
      file: oraclePath,
      expected: 'the oracle weights',
      problem: 'missing — run `pnpm --filter @erase/shapes-world train-oracle` (or pass `oracle: false`)',
    });
  }
  if (options.threads !== undefined && options.backend !== 'wasm') {
    // threads only mean something for the wasm backend this call selects; ignoring them would hide a mistake
    throw new InvalidOptionError({ option: 'threads', expected: "to come with backend: 'wasm'", received: options.threads });
  }
  if (options.backend !== undefined) {
    if (options.backend !== 'cpu' && options.backend !== 'wasm') {
      throw new InvalidOptionError({ option: 'backend', expected: "'cpu' or 'wasm'", received: options.backend });
    }
    await useBackend(options.backend, options.threads === undefined ? {} : { threads: options.threads });
  }
  const guidanceScale = readGuidanceScale(join(dir, 'model_index.json'));
  const tokenizer = CLIPTokenizer.fromPretrained(join(dir, 'tokenizer'));
  const scheduler = schedulerFromPretrained(join(dir, 'scheduler'));
  const textModel = await CLIPTextModel.fromPretrained(join(dir, 'text_encoder'));
  let unet: UNet2DConditionModel | undefined;
  let oracle: OracleClassifier | undefined;
  try {
    unet = await UNet2DConditionModel.fromPretrained(join(dir, 'unet'));
    if (unet.contextDim !== textModel.hiddenSize) {
      throw new FileFormatError({ file: join(dir, 'unet', 'config.json'), expected: `cross_attention_dim ${textModel.hiddenSize} (the text encoder's hidden_size)`, problem: `is ${unet.contextDim}` });
    }
    if (unet.inChannels !== 12) {
      throw new FileFormatError({ file: join(dir, 'unet', 'config.json'), expected: 'in_channels 12 (pixel-unshuffled RGB)', problem: `is ${unet.inChannels}` });
    }
    if (wantOracle) oracle = loadOracle(oraclePath);
    return new ShapesWorldModel(dir, tokenizer, textModel, unet, scheduler, oracle, guidanceScale);
  } catch (error) {
    textModel.dispose();
    unet?.dispose();
    oracle?.dispose();
    throw error;
  }
}

/** `guidance_scale` of `model_index.json` (a number ≥ 1), or `WORLD_GUIDANCE_SCALE` when the field is absent. */
function readGuidanceScale(file: string): number {
  const value = readJsonConfig(file)['guidance_scale'];
  if (value === undefined) return WORLD_GUIDANCE_SCALE;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new FileFormatError({ file, expected: 'guidance_scale: a number ≥ 1', problem: `is ${JSON.stringify(value)}` });
  }
  return value;
}
