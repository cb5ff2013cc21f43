/**
 * The words of ShapesWorld: 10 shape classes with 3 synonyms each, 8 fill colours, 4 backgrounds and the
 * caption templates. Every word here is one token of the world's CLIP vocabulary (`tokenizer/`, built by
 * `scripts/make-vocab.ts` from `worldWords()`).
 */

/** A shape class: its class word and the three synonyms captions also use (each synonym belongs to one class). */
export interface ShapeClass {
  /** The class word, e.g. `circle`. */
  readonly name: string;
  /** Exactly three synonyms, e.g. `disc`, `orb`, `dot`. */
  readonly synonyms: readonly [string, string, string];
}

/** The 10 classes, in label order (label k ↔ `SHAPE_CLASSES[k]`). */
export const SHAPE_CLASSES: readonly ShapeClass[] = [
  { name: 'circle', synonyms: ['disc', 'orb', 'dot'] },
  { name: 'square', synonyms: ['box', 'block', 'tile'] },
  { name: 'triangle', synonyms: ['pyramid', 'wedge', 'delta'] },
  { name: 'star', synonyms: ['pentagram', 'sparkle', 'starburst'] },
  { name: 'heart', synonyms: ['valentine', 'love', 'cardioid'] },
  { name: 'cross', synonyms: ['plus', 'cruciform', 'crucifix'] },
  { name: 'ring', synonyms: ['donut', 'hoop', 'annulus'] },
  { name: 'diamond', synonyms: ['rhombus', 'lozenge', 'rhomb'] },
  { name: 'hexagon', synonyms: ['hex', 'honeycomb', 'sexagon'] },
  { name: 'moon', synonyms: ['crescent', 'lunar', 'sickle'] },
];

/** The class words in label order. */
export const CLASS_NAMES: readonly string[] = SHAPE_CLASSES.map((c) => c.name);

/** A named colour, 8-bit sRGB. */
export interface NamedColor {
  readonly name: string;
  readonly rgb: readonly [number, number, number];
}

/** The 8 fill colours (index ↔ the `colors` array of a generated batch). */
export const FILL_COLORS: readonly NamedColor[] = [
  { name: 'red', rgb: [220, 40, 40] },
  { name: 'orange', rgb: [245, 140, 30] },
  { name: 'yellow', rgb: [240, 215, 40] },
  { name: 'green', rgb: [40, 170, 60] },
  { name: 'cyan', rgb: [40, 200, 215] },
  { name: 'blue', rgb: [40, 80, 220] },
  { name: 'purple', rgb: [140, 60, 190] },
  { name: 'pink', rgb: [240, 120, 180] },
];

/** The 4 backgrounds (index ↔ the `backgrounds` array of a generated batch). */
export const BACKGROUNDS: readonly NamedColor[] = [
  { name: 'black', rgb: [0, 0, 0] },
  { name: 'white', rgb: [255, 255, 255] },
  { name: 'gray', rgb: [128, 128, 128] },
  { name: 'beige', rgb: [225, 210, 175] },
];

/**
 * The 6 caption templates: `{w}` is the shape word (class word or synonym), `{c}` the fill colour, `{b}` the
 * background.
 */
export const CAPTION_TEMPLATES: readonly string[] = [
  'a photo of the {w}',
  'a {c} {w}',
  'a {c} {w} on a {b} background',
  '{w}',
  'a photo of a {c} {w}',
  'the {w} on a {b} background',
];

/** The label of a class word or synonym, or undefined for any other word. */
export function classOfWord(word: string): number | undefined {
  return WORD_TO_CLASS.get(word);
}

/**
 * Every word of the world, each once, in a fixed order: class words, synonyms (by class), colours,
 * backgrounds, then the template words (`a`, `photo`, `of`, `the`, `on`, `background`).
 */
export function worldWords(): string[] {
  const words: string[] = [];
  const add = (w: string): void => {
    if (!words.includes(w)) words.push(w);
  };
  for (const c of SHAPE_CLASSES) add(c.name);
  for (const c of SHAPE_CLASSES) c.synonyms.forEach(add);
  for (const c of FILL_COLORS) add(c.name);
  for (const b of BACKGROUNDS) add(b.name);
  for (const template of CAPTION_TEMPLATES) {
    for (const w of template.split(' ')) if (!w.startsWith('{')) add(w);
  }
  return words;
}

const WORD_TO_CLASS: ReadonlyMap<string, number> = new Map(
  SHAPE_CLASSES.flatMap((c, label) => [c.name, ...c.synonyms].map((w) => [w, label] as const)),
);
