/**
 * Typed accessors over the prompt-set data files in this folder (JSON, bundled at build time). Every accessor
 * returns a fresh copy, so callers may modify what they get. Sources and caveats live in each file's
 * `source`/`note` fields and are returned with the data.
 */
import { InvalidOptionError } from '@erase/core';
import cifar10 from './cifar10.json';
import imagenette from './imagenette-splits.json';
import nudenet from './nudenet-exposed-labels.json';
import realera from './realera-associated.json';
import templates from './templates.json';

/** The CIFAR-10 classes and their MACE synonyms. */
export interface Cifar10PromptSet {
  readonly source: string;
  readonly classes: string[];
  readonly synonyms: Record<string, string[]>;
}

/** One Imagenette split of Adversarial Preservation: five classes erased, the other five preserved. */
export interface ImagenetteSplit {
  readonly id: ImagenetteSplitId;
  /** The split's name in the official code (`--prompt`). */
  readonly codeName: string;
  readonly erased: string[];
  readonly preserved: string[];
}

/** Split ids `v1` … `v4`, in the order of the paper's Table 1. */
export type ImagenetteSplitId = 'v1' | 'v2' | 'v3' | 'v4';

/** The Imagenette classes and splits, with where they come from. */
export interface ImagenettePromptSet {
  readonly source: string;
  /** Says which lists the overview gives and which come from the official code. */
  readonly note: string;
  readonly classes: string[];
  readonly splits: ImagenetteSplit[];
}

/** Erasure task of a RealEra associated-concept prompt. */
export type AssociatedTask = 'celebrity' | 'artisticStyle';

/** A prompt that names an erased concept without its name (RealEra appendix Table 2). */
export interface AssociatedPrompt {
  readonly task: AssociatedTask;
  readonly concept: string;
  /** The concept's spelling in the paper's table when it differs from `concept`. */
  readonly printedAs?: string;
  readonly prompt: string;
}

/** Ids of the prompt templates. */
export type PromptTemplateId = 'photoOfThe' | 'imageOf' | 'portraitOf' | 'artworkBy';

/** A prompt template with one `{placeholder}`. */
export interface PromptTemplate {
  readonly id: PromptTemplateId;
  readonly template: string;
  readonly placeholder: string;
  readonly source: string;
}

/** A detector label counted as "exposed" and its column in RealEra's Table 2. */
export interface ExposedLabel {
  readonly label: string;
  readonly column: string;
}

/** The CIFAR-10 prompt set: 10 class names in the dataset's order and 3 MACE synonyms each. */
export function cifar10PromptSet(): Cifar10PromptSet {
  const synonyms: Record<string, string[]> = {};
  for (const [name, list] of Object.entries(cifar10.synonyms)) synonyms[name] = [...list];
  return { source: cifar10.source, classes: [...cifar10.classes], synonyms };
}

/**
 * The MACE synonyms of one CIFAR-10 class.
 *
 * @throws InvalidOptionError for a name that is not a CIFAR-10 class.
 */
export function cifar10Synonyms(className: string): string[] {
  const list = (cifar10.synonyms as Record<string, string[] | undefined>)[className];
  if (!list) {
    throw new InvalidOptionError({ option: 'className', expected: `a CIFAR-10 class (${cifar10.classes.join(', ')})`, received: className });
  }
  return [...list];
}

/** The Imagenette classes and the four erasure splits of Adversarial Preservation. */
export function imagenettePromptSet(): ImagenettePromptSet {
  return {
    source: imagenette.source,
    note: imagenette.note,
    classes: [...imagenette.classes],
    splits: imagenette.splits.map((s) => toSplit(s)),
  };
}

/**
 * One Imagenette split by id.
 *
 * @throws InvalidOptionError for an id other than `v1` … `v4`.
 */
export function imagenetteSplit(id: ImagenetteSplitId): ImagenetteSplit {
  const split = imagenette.splits.find((s) => s.id === id);
  if (!split) {
    throw new InvalidOptionError({ option: 'id', expected: `one of ${imagenette.splits.map((s) => s.id).join(', ')}`, received: id });
  }
  return toSplit(split);
}

/** RealEra's associated-concept prompts, all or those of one task, in the paper's order. */
export function realEraAssociatedPrompts(task?: AssociatedTask): AssociatedPrompt[] {
  return realera.concepts
    .filter((c) => task === undefined || c.task === task)
    .map((c) => ({ ...(c as AssociatedPrompt) }));
}

/** Source and caveats of the RealEra associated-concept prompts. */
export function realEraAssociatedPromptsInfo(): { source: string; note: string } {
  return { source: realera.source, note: realera.note };
}

/** All prompt templates. */
export function promptTemplates(): PromptTemplate[] {
  return templates.templates.map((t) => ({ ...(t as PromptTemplate) }));
}

/**
 * One prompt template by id.
 *
 * @throws InvalidOptionError for an unknown id.
 */
export function promptTemplate(id: PromptTemplateId): PromptTemplate {
  const template = templates.templates.find((t) => t.id === id);
  if (!template) {
    throw new InvalidOptionError({ option: 'id', expected: `one of ${templates.templates.map((t) => t.id).join(', ')}`, received: id });
  }
  return { ...(template as PromptTemplate) };
}

/**
 * Fills a template's placeholder: `fillTemplate(promptTemplate('photoOfThe'), 'cat')` → `"a photo of the cat"`.
 *
 * @throws InvalidOptionError when the template does not hold its `{placeholder}` exactly once.
 */
export function fillTemplate(template: Pick<PromptTemplate, 'template' | 'placeholder'>, value: string): string {
  const token = `{${template.placeholder}}`;
  const parts = template.template.split(token);
  if (parts.length !== 2) {
    throw new InvalidOptionError({ option: 'template', expected: `exactly one ${token}`, received: template.template });
  }
  return `${parts[0]}${value}${parts[1]}`;
}

/** The eight NudeNet "exposed" labels NER counts, with their RealEra Table 2 columns. */
export function nudenetExposedLabels(): ExposedLabel[] {
  return nudenet.labels.map((l) => ({ ...l }));
}

function toSplit(s: { id: string; codeName: string; erased: string[]; preserved: string[] }): ImagenetteSplit {
  return { id: s.id as ImagenetteSplitId, codeName: s.codeName, erased: [...s.erased], preserved: [...s.preserved] };
}
