/**
 * Reading diffusers folders: `model_index.json` (pipeline class + components) and per-component `config.json` +
 * weights, in the file names diffusers and transformers use:
 *   diffusion_pytorch_model[.<variant>].safetensors   (diffusers models: UNet, VAE)
 *   model[.<variant>].safetensors                     (transformers models: CLIP text encoder)
 *   <name>.safetensors.index[.<variant>].json         (sharded: weight_map → shard files)
 * Only safetensors are read; pickle weights (`.bin`, `.ckpt`, `.pt`, `.pth`) give an UnsupportedError.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, InvalidOptionError, UnsupportedError } from '@erase/core';
import { readJsonConfig } from './config';
import { checkAllDecodable, openSafetensors, pickleUnsupportedMessage, type HostTensor } from './safetensors';

/** A model component loaded from disk. */
export interface LoadedComponent {
  /** The component's config as stored (snake_case keys; `camelizeConfig` converts). */
  readonly config: Record<string, unknown>;
  /** Weights under their diffusers/transformers state_dict names, PyTorch layouts. */
  readonly weights: Map<string, HostTensor>;
  /** Files the weights were read from (absolute or as given). */
  readonly files: string[];
}

/** One `model_index.json` component entry: `"unet": ["diffusers", "UNet2DConditionModel"]`. */
export interface ModelIndexComponent {
  readonly library: string | null;
  readonly className: string | null;
}

/** A parsed `model_index.json`. */
export interface ModelIndex {
  /** `_class_name`, e.g. `StableDiffusionPipeline`. */
  readonly className: string;
  readonly diffusersVersion: string | undefined;
  /** Components by folder name (entries whose value is a `[library, class]` pair). */
  readonly components: Readonly<Record<string, ModelIndexComponent>>;
  /** The file's content as stored. */
  readonly raw: Record<string, unknown>;
}

/** Options for finding and loading weights. */
export interface ComponentLoadOptions {
  /** Weight variant, as diffusers' `variant` (e.g. 'fp16' reads `diffusion_pytorch_model.fp16.safetensors`). */
  readonly variant?: string;
  /** Validates `config.json` before any weight is read (throw to stop: a bad config costs no weight decoding). */
  readonly checkConfig?: (config: Record<string, unknown>) => void;
}

/** Where a component's weights are. */
export interface ComponentWeightFiles {
  readonly kind: 'single' | 'sharded';
  /** The single file, or the index file for sharded weights. */
  readonly file: string;
}

const WEIGHT_STEMS = ['diffusion_pytorch_model', 'model'] as const;
const PICKLE_EXTENSIONS = ['.bin', '.ckpt', '.pt', '.pth'];

/**
 * Reads `<dir>/model_index.json`.
 * @throws FileFormatError naming the file when missing, not JSON, or without a string `_class_name`
 */
export function readModelIndex(dir: string): ModelIndex {
  const file = join(dir, 'model_index.json');
  const raw = readJsonConfig(file);
  const className = raw._class_name;
  if (typeof className !== 'string') {
    throw new FileFormatError({ file, expected: 'a "_class_name" string (the pipeline class)', problem: `"_class_name" is ${JSON.stringify(className)}` });
  }
  const components: Record<string, ModelIndexComponent> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith('_') || !Array.isArray(value) || value.length !== 2) continue;
    const [library, cls] = value as unknown[];
    if ((typeof library === 'string' || library === null) && (typeof cls === 'string' || cls === null)) {
      components[name] = { library, className: cls };
    }
  }
  const version = raw._diffusers_version;
  return { className, diffusersVersion: typeof version === 'string' ? version : undefined, components, raw };
}

/** A file or folder name with no path separators (not `.` or `..`). */
export function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

function checkVariant(variant: string | undefined): void {
  if (variant !== undefined && !/^[A-Za-z0-9_-]+$/.test(variant)) {
    throw new InvalidOptionError({ option: 'variant', expected: "a variant name such as 'fp16' (letters, digits, _ and -)", received: variant });
  }
}

function checkFolder(dir: string, expected: string): string[] {
  if (!existsSync(dir)) throw new FileFormatError({ file: dir, expected, problem: 'does not exist' });
  if (!statSync(dir).isDirectory()) throw new FileFormatError({ file: dir, expected, problem: 'is not a folder' });
  return readdirSync(dir);
}

/**
 * Finds a component's weights in `dir` (single file first, then a sharded index), honouring `variant`.
 * @throws FileFormatError naming the folder when it is missing or holds no matching safetensors weights (the message
 *   names the expected files and a variant that would match); UnsupportedError when only pickle weights are present
 */
export function findComponentWeights(dir: string, options: ComponentLoadOptions = {}): ComponentWeightFiles {
  const { variant } = options;
  checkVariant(variant);
  const files = checkFolder(dir, 'a diffusers component folder (config.json + weights)');
  const present = new Set(files);
  const v = variant ? `.${variant}` : '';
  const singles = WEIGHT_STEMS.map((stem) => `${stem}${v}.safetensors`);
  const indexes = WEIGHT_STEMS.flatMap((stem) =>
    variant ? [`${stem}.safetensors.index${v}.json`, `${stem}${v}.safetensors.index.json`] : [`${stem}.safetensors.index.json`],
  );
  for (const name of singles) if (present.has(name)) return { kind: 'single', file: join(dir, name) };
  for (const name of indexes) if (present.has(name)) return { kind: 'sharded', file: join(dir, name) };

  const safetensors = files.filter((f) => f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json') || /\.safetensors\.index\.[^.]+\.json$/.test(f));
  const expectedNames = [...singles, ...indexes].join(', ');
  if (safetensors.length > 0) {
    const hint = variant
      ? `found ${safetensors.join(', ')} but no "${variant}" variant; omit \`variant\` or pass the variant these files use`
      : `found only variant files (${safetensors.join(', ')}); pass \`variant\` (e.g. 'fp16') to load them`;
    throw new FileFormatError({ file: dir, expected: `weights named ${expectedNames}`, problem: hint });
  }
  const pickles = files.filter((f) => PICKLE_EXTENSIONS.some((ext) => f.toLowerCase().endsWith(ext)));
  if (pickles.length > 0) {
    throw new UnsupportedError(pickleUnsupportedMessage(join(dir, pickles[0] as string)) + ` (folder ${dir} has no .safetensors weights)`);
  }
  throw new FileFormatError({ file: dir, expected: `weights named ${expectedNames}`, problem: 'holds no weights file' });
}

/**
 * Reads sharded weights from an index file (`weight_map`: tensor name → shard file in the same folder). Every shard
 * is validated, every listed tensor must be in its shard and every tensor of a shard must be listed for it.
 * @throws FileFormatError naming the index or shard at fault
 */
export function readShardedWeights(indexFile: string, dir: string): { weights: Map<string, HostTensor>; files: string[] } {
  const index = readJsonConfig(indexFile);
  const weightMap = index.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FileFormatError({ file: indexFile, expected: 'a "weight_map" object (tensor name → shard file)', problem: '"weight_map" is missing or not an object' });
  }
  const byShard = new Map<string, string[]>();
  for (const [key, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !isPlainName(shard)) {
      throw new FileFormatError({ file: indexFile, expected: 'shard file names in the same folder', problem: `"weight_map"."${key}" is ${JSON.stringify(shard)}` });
    }
    const list = byShard.get(shard) ?? [];
    list.push(key);
    byShard.set(shard, list);
  }
  const weights = new Map<string, HostTensor>();
  const files: string[] = [];
  for (const [shard, keys] of [...byShard].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const file = join(dir, shard);
    const handle = openSafetensors(file);
    try {
      const listed = new Set(keys);
      const missing = keys.filter((k) => !handle.has(k));
      const unlisted = handle.keys().filter((k) => !listed.has(k));
      if (missing.length > 0 || unlisted.length > 0) {
        const parts = [];
        if (missing.length > 0) parts.push(`${missing.length} tensors listed in ${indexFile} are missing (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`);
        if (unlisted.length > 0) parts.push(`${unlisted.length} tensors are not listed for this shard (${unlisted.slice(0, 5).join(', ')}${unlisted.length > 5 ? ', …' : ''})`);
        throw new FileFormatError({ file, expected: `exactly the tensors that ${indexFile} maps to it`, problem: parts.join('; ') });
      }
      checkAllDecodable(handle);
      for (const key of handle.keys()) weights.set(key, handle.read(key));
    } finally {
      handle.close();
    }
    files.push(file);
  }
  return { weights, files };
}

/**
 * Loads a model component folder: `config.json` plus its safetensors weights (single or sharded, optional variant).
 * @returns config (snake_case as stored), weights (a fresh Map the caller owns), files read
 * @throws FileFormatError naming the folder/file when missing or malformed; UnsupportedError for pickle-only folders
 *   and for weights stored in a dtype the reader does not decode (`UndecodedDtype`: F8_E8M0, the FNUZ float8s, F4, F6_*, C64)
 */
export function loadComponent(dir: string, options: ComponentLoadOptions = {}): LoadedComponent {
  const found = findComponentWeights(dir, options);
  const config = readJsonConfig(join(dir, 'config.json'));
  options.checkConfig?.(config);
  if (found.kind === 'sharded') {
    const { weights, files } = readShardedWeights(found.file, dir);
    return { config, weights, files: [found.file, ...files] };
  }
  const handle = openSafetensors(found.file);
  try {
    checkAllDecodable(handle);
    const weights = new Map<string, HostTensor>();
    for (const key of handle.keys()) weights.set(key, handle.read(key));
    return { config, weights, files: [found.file] };
  } finally {
    handle.close();
  }
}

/** A diffusers pipeline folder with some of its model components loaded. */
export interface LoadedPipeline {
  readonly modelIndex: ModelIndex;
  readonly components: Map<string, LoadedComponent>;
}

/**
 * Loads `model_index.json` and the named model components (default: those of unet, vae, text_encoder that the index
 * lists). Tokenizer and scheduler folders hold no weights: read them with `readJsonConfig` / the tokenizer loader.
 * @throws FileFormatError when the index or a component folder is missing or malformed; InvalidOptionError when a
 *   requested component is not in the index; UnsupportedError for pickle-only components
 */
export function loadPipeline(dir: string, options: ComponentLoadOptions & { components?: readonly string[] } = {}): LoadedPipeline {
  const modelIndex = readModelIndex(dir);
  const listed = Object.keys(modelIndex.components);
  const wanted = options.components ?? ['unet', 'vae', 'text_encoder'].filter((c) => modelIndex.components[c]?.className);
  const components = new Map<string, LoadedComponent>();
  for (const name of wanted) {
    if (!listed.includes(name) || !isPlainName(name)) {
      throw new InvalidOptionError({ option: 'components', expected: `names listed in ${join(dir, 'model_index.json')} (${listed.join(', ')})`, received: name });
    }
    components.set(name, loadComponent(join(dir, name), options));
  }
  return { modelIndex, components };
}
