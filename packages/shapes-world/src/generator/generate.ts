/**
 * Procedural ShapesWorld images, deterministic from a seed.
 *
 * Per image, in this order from one `Rng(seed)` stream: label ~ U{0..9} (unless fixed), colour ~ U{0..7},
 * background ~ U{0..3}, radius r ~ U[0.28, 0.42)·N, centre c_x ~ U[e_u r, N − e_u r), c_y ~ U[e_v r, N − e_v r)
 * (so the whole shape is in frame; e = the class's extent, see shapes.ts), then three numbers for the caption.
 * Images are N×N RGB (N = 24 by default), drawn at 4× supersampling and box-downsampled, values in [-1, 1].
 */
import { InvalidOptionError, Rng } from '@erase/core';
import { randomCaption } from '../world/captions';
import { BACKGROUNDS, CLASS_NAMES, FILL_COLORS, SHAPE_CLASSES } from '../world/vocabulary';
import { renderShape } from './render';
import { SHAPE_GEOMETRY } from './shapes';

/** Default image size N. */
export const DEFAULT_IMAGE_SIZE = 24;
/** Supersampling factor per axis. */
export const SUPERSAMPLE = 4;
/** Shape radius range as a fraction of the image size. */
export const RADIUS_RANGE: readonly [number, number] = [0.28, 0.42];
/** Largest number of floats one call may allocate (2^28 floats = 1 GiB). */
const MAX_FLOATS = 2 ** 28;

/** A batch of generated images with what they show. */
export interface ShapesBatch {
  /** float32 NHWC [count, size, size, 3] in [-1, 1], row-major. */
  readonly images: Float32Array;
  /** [count, size, size, 3]. */
  readonly shape: readonly [number, number, number, number];
  /** Class label per image (index into `SHAPE_CLASSES`). */
  readonly labels: Int32Array;
  /** Fill colour index per image (into `FILL_COLORS`). */
  readonly colors: Int32Array;
  /** Background index per image (into `BACKGROUNDS`). */
  readonly backgrounds: Int32Array;
  /** One random caption per image (template and word drawn per image). */
  readonly captions: string[];
  /** Shape centre per image in pixels, [count, 2] as (x, y) pairs (x right, y down). */
  readonly centers: Float32Array;
  /** Shape radius per image in pixels. */
  readonly radii: Float32Array;
}

/** Options of `generateShapes`. */
export interface GenerateShapesOptions {
  /** Number of images (≥ 0). */
  readonly count: number;
  /** Seed of the stream (a safe integer). */
  readonly seed: number;
  /** Image size N (default 24; an integer in [8, 256]). */
  readonly size?: number;
}

/**
 * Generates `count` random images of random classes.
 * @returns a batch the caller owns (plain typed arrays, no tensors).
 * @throws InvalidOptionError for a bad count, seed or size, or a batch over 2^28 floats (1 GiB).
 */
export function generateShapes(options: GenerateShapesOptions): ShapesBatch {
  return generate(options, undefined);
}

/** Options of `generateClassImages`. */
export interface GenerateClassImagesOptions extends GenerateShapesOptions {
  /** The class: a label (0–9) or a class word such as `'ring'`. */
  readonly shapeClass: number | string;
}

/**
 * Generates `count` images of one class (every other attribute random, as in `generateShapes`).
 * @throws InvalidOptionError for an unknown class, or as `generateShapes`.
 */
export function generateClassImages(options: GenerateClassImagesOptions): ShapesBatch {
  const { shapeClass } = options;
  const label = typeof shapeClass === 'string' ? CLASS_NAMES.indexOf(shapeClass) : shapeClass;
  if (!Number.isInteger(label) || label < 0 || label >= SHAPE_CLASSES.length) {
    throw new InvalidOptionError({
      option: 'shapeClass',
      expected: `a label in [0, ${SHAPE_CLASSES.length}) or one of ${CLASS_NAMES.join(', ')}`,
      received: shapeClass,
    });
  }
  return generate(options, label);
}

function generate(options: GenerateShapesOptions, fixedLabel: number | undefined): ShapesBatch {
  const { count, seed } = options;
  const size = options.size ?? DEFAULT_IMAGE_SIZE;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new InvalidOptionError({ option: 'count', expected: 'a non-negative integer', received: count });
  }
  if (!Number.isInteger(size) || size < 8 || size > 256) {
    throw new InvalidOptionError({ option: 'size', expected: 'an integer in [8, 256]', received: size });
  }
  if (count * size * size * 3 > MAX_FLOATS) {
    throw new InvalidOptionError({
      option: 'count',
      expected: `at most ${Math.floor(MAX_FLOATS / (size * size * 3))} images of ${size}×${size} per call (1 GiB)`,
      received: count,
    });
  }
  const rng = new Rng(seed);
  const images = new Float32Array(count * size * size * 3);
  const labels = new Int32Array(count);
  const colors = new Int32Array(count);
  const backgrounds = new Int32Array(count);
  const captions: string[] = new Array<string>(count);
  const centers = new Float32Array(2 * count);
  const radii = new Float32Array(count);
  const scratch = new Float64Array(SUPERSAMPLE * (size + 1));
  for (let n = 0; n < count; n++) {
    const drawn = rng.int(SHAPE_CLASSES.length);
    const label = fixedLabel ?? drawn;
    const color = rng.int(FILL_COLORS.length);
    const background = rng.int(BACKGROUNDS.length);
    const radius = rng.uniformIn(RADIUS_RANGE[0], RADIUS_RANGE[1]) * size;
    const [eu, ev] = (SHAPE_GEOMETRY[label] as (typeof SHAPE_GEOMETRY)[number]).extent;
    const centerX = rng.uniformIn(eu * radius, size - eu * radius);
    const centerY = rng.uniformIn(ev * radius, size - ev * radius);
    renderShape(images, n, size, SUPERSAMPLE, {
      label,
      centerX,
      centerY,
      radius,
      fill: (FILL_COLORS[color] as (typeof FILL_COLORS)[number]).rgb,
      background: (BACKGROUNDS[background] as (typeof BACKGROUNDS)[number]).rgb,
    }, scratch);
    labels[n] = label;
    colors[n] = color;
    backgrounds[n] = background;
    centers[2 * n] = centerX;
    centers[2 * n + 1] = centerY;
    radii[n] = radius;
    captions[n] = randomCaption(rng, { label, color, background });
  }
  return { images, shape: [count, size, size, 3], labels, colors, backgrounds, captions, centers, radii };
}
