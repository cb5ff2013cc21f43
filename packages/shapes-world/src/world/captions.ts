/**
 * Captions of ShapesWorld images: one of the 6 templates, with the class word half the time and one of its three
 * synonyms otherwise.
 */
import { InvalidOptionError, type Rng } from '@erase/core';
import { BACKGROUNDS, CAPTION_TEMPLATES, FILL_COLORS, SHAPE_CLASSES } from './vocabulary';

/** What a caption says about an image. */
export interface CaptionAttributes {
  /** Class label (index into `SHAPE_CLASSES`). */
  readonly label: number;
  /** Fill colour index (into `FILL_COLORS`). */
  readonly color: number;
  /** Background index (into `BACKGROUNDS`). */
  readonly background: number;
}

/**
 * Fills a template: `{w}` ← `word`, `{c}` ← the colour name, `{b}` ← the background name.
 * @throws InvalidOptionError for a template index or attribute out of range.
 */
export function fillTemplate(template: number, word: string, attributes: CaptionAttributes): string {
  const text = CAPTION_TEMPLATES[template];
  if (text === undefined) {
    throw new InvalidOptionError({ option: 'template', expected: `an index in [0, ${CAPTION_TEMPLATES.length})`, received: template });
  }
  const color = FILL_COLORS[attributes.color];
  const background = BACKGROUNDS[attributes.background];
  if (color === undefined) {
    throw new InvalidOptionError({ option: 'color', expected: `an index in [0, ${FILL_COLORS.length})`, received: attributes.color });
  }
  if (background === undefined) {
    throw new InvalidOptionError({ option: 'background', expected: `an index in [0, ${BACKGROUNDS.length})`, received: attributes.background });
  }
  return text.replace('{w}', word).replace('{c}', color.name).replace('{b}', background.name);
}

/**
 * A random caption for an image: template uniform over the 6, word = the class word with probability ½, else a
 * uniform synonym. Always draws exactly three numbers from `rng` (template, coin, synonym), so the stream advances
 * the same way whatever is chosen.
 * @throws InvalidOptionError for attributes out of range.
 */
export function randomCaption(rng: Rng, attributes: CaptionAttributes): string {
  const shape = SHAPE_CLASSES[attributes.label];
  if (shape === undefined) {
    throw new InvalidOptionError({ option: 'label', expected: `an index in [0, ${SHAPE_CLASSES.length})`, received: attributes.label });
  }
  const template = rng.int(CAPTION_TEMPLATES.length);
  const useClassWord = rng.uniform() < 0.5;
  const synonym = shape.synonyms[rng.int(shape.synonyms.length)] as string;
  return fillTemplate(template, useClassWord ? shape.name : synonym, attributes);
}
