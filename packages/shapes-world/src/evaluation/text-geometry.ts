/**
 * Geometry of the world's text encoder, as the prototype measured it (docs/shapes-world.md): final hidden states
 * of "a photo of the {w}" for every class word and synonym, minus their mean, compared by cosine.
 *
 * Notation: E_w [T, D] the encoder output of "a photo of the {w}"; Ē = mean_w E_w (per position) over all class
 * words and synonyms; Ẽ_w = E_w − Ē. i = the word's position (every prompt must put its word at the same position,
 * i.e. every word is one token). Compared, for two words u, v:
 *   word cosine  cos(Ẽ_u[i], Ẽ_v[i])
 *   eos cosine   cos(Ẽ_u[i+1], Ẽ_v[i+1])                       (the first end token)
 *   end cosine   cos(vec Ẽ_u[i+1 : T], vec Ẽ_v[i+1 : T])           (all end tokens after the word, flattened)
 * Because the encoder is causal, the end tokens carry the word; this is why a word-level edit must reach them.
 */
import { InvalidOptionError, type TextEncoder } from '@erase/core';
import { SHAPE_CLASSES, type ShapeClass } from '../world/vocabulary';
import { mean } from './prompt-scores';
import { photoPrompt } from './prompts';

/** Cosines of one pair of words. */
export interface PairCosines {
  readonly word: number;
  readonly eos: number;
  readonly end: number;
}

/** Summary of cosines over a set of pairs. */
export interface CosineSummary {
  readonly mean: PairCosines;
  readonly min: PairCosines;
  readonly max: PairCosines;
}

/** Geometry of one class. */
export interface ClassGeometry {
  readonly name: string;
  /** Class word vs each of its synonyms. */
  readonly synonyms: readonly ({ readonly synonym: string } & PairCosines)[];
  /** Class word vs its synonyms, summarised. */
  readonly ownSynonyms: CosineSummary;
  /** Class word vs every other class word, summarised. */
  readonly otherClasses: CosineSummary;
}

/** What `measureTextGeometry` returns. */
export interface TextGeometry {
  /** i, the word's position (0 = `<bos>`). */
  readonly wordPosition: number;
  /** T. */
  readonly contextLength: number;
  readonly perClass: readonly ClassGeometry[];
  /** Means over classes of the per-class means. */
  readonly ownSynonyms: PairCosines;
  readonly otherClasses: PairCosines;
}

/**
 * Encodes the prompts once and computes the cosines. No tensor outlives the call.
 * @throws InvalidOptionError when the prompts do not all place their word at one position (a multi-token word) or
 *   the word is the last position (no end token after it).
 */
export async function measureTextGeometry(textEncoder: TextEncoder, classes: readonly ShapeClass[] = SHAPE_CLASSES): Promise<TextGeometry> {
  const words = classes.flatMap((c) => [c.name, ...c.synonyms]);
  const prompts = words.map(photoPrompt);
  const lengths = textEncoder.tokenize(prompts).lengths;
  const t = textEncoder.maxLength;
  const d = textEncoder.hiddenSize;
  const wordPosition = (lengths[0] as number) - 2;
  lengths.forEach((length, n) => {
    if (length !== lengths[0]) {
      throw new InvalidOptionError({
        option: 'classes',
        expected: `words that are one token each ("${prompts[0]}" has ${lengths[0]} tokens)`,
        received: `"${prompts[n]}" with ${length} tokens`,
      });
    }
  });
  if (wordPosition + 1 >= t) {
    throw new InvalidOptionError({ option: 'classes', expected: `prompts shorter than the context length ${t}`, received: lengths[0] });
  }
  const encoded = textEncoder.encodePrompts(prompts); // [N, T, D]
  let values: Float32Array;
  try {
    values = (await encoded.data()) as Float32Array;
  } finally {
    encoded.dispose();
  }
  const n = prompts.length;
  const centre = new Float64Array(t * d);
  for (let p = 0; p < n; p++) for (let j = 0; j < t * d; j++) centre[j] = (centre[j] as number) + (values[p * t * d + j] as number) / n;
  const centred = Array.from({ length: n }, (_, p) => {
    const row = new Float64Array(t * d);
    for (let j = 0; j < t * d; j++) row[j] = (values[p * t * d + j] as number) - (centre[j] as number);
    return row; // [T, D]
  });
  const block = (row: Float64Array, from: number, to: number): Float64Array => row.subarray(from * d, to * d);
  const pair = (u: number, v: number): PairCosines => {
    const a = centred[u] as Float64Array;
    const b = centred[v] as Float64Array;
    return {
      word: cosine(block(a, wordPosition, wordPosition + 1), block(b, wordPosition, wordPosition + 1)),
      eos: cosine(block(a, wordPosition + 1, wordPosition + 2), block(b, wordPosition + 1, wordPosition + 2)),
      end: cosine(block(a, wordPosition + 1, t), block(b, wordPosition + 1, t)),
    };
  };
  const indexOf = (word: string): number => words.indexOf(word);
  const perClass = classes.map((c): ClassGeometry => {
    const self = indexOf(c.name);
    const synonyms = c.synonyms.map((s) => ({ synonym: s, ...pair(self, indexOf(s)) }));
    const others = classes.filter((o) => o !== c).map((o) => pair(self, indexOf(o.name)));
    return { name: c.name, synonyms, ownSynonyms: summarise(synonyms), otherClasses: summarise(others) };
  });
  const meanOf = (get: (g: ClassGeometry) => PairCosines): PairCosines => ({
    word: mean(perClass.map((g) => get(g).word)),
    eos: mean(perClass.map((g) => get(g).eos)),
    end: mean(perClass.map((g) => get(g).end)),
  });
  return {
    wordPosition,
    contextLength: t,
    perClass,
    ownSynonyms: meanOf((g) => g.ownSynonyms.mean),
    otherClasses: meanOf((g) => g.otherClasses.mean),
  };
}

function summarise(pairs: readonly PairCosines[]): CosineSummary {
  const of = (key: keyof PairCosines): number[] => pairs.map((p) => p[key]);
  return {
    mean: { word: mean(of('word')), eos: mean(of('eos')), end: mean(of('end')) },
    min: { word: Math.min(...of('word')), eos: Math.min(...of('eos')), end: Math.min(...of('end')) },
    max: { word: Math.max(...of('word')), eos: Math.max(...of('eos')), end: Math.max(...of('end')) },
  };
}

/** cos(a, b); NaN when either is zero. */
function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : Number.NaN;
}
