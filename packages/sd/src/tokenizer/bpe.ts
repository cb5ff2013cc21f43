/**
 * Byte-pair encoding of one pre-token (Sennrich et al. 2016, as in CLIP's `simple_tokenizer.py` and transformers'
 * `CLIPTokenizer.bpe`): start from the characters of the word with `</w>` glued to the last one, then repeatedly
 * merge every occurrence of the adjacent pair with the lowest merge rank until no ranked pair remains.
 *
 * Results are cached per word (the cache is cleared when it reaches `cacheSize` entries).
 */

/** End-of-word marker appended to the last symbol of every word. */
export const END_OF_WORD = '</w>';

/** A BPE merge table: pair → rank (lower merges first). */
export class BpeModel {
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, readonly string[]>();
  private readonly cacheSize: number;
  /** Words that map to themselves without `</w>` (CLIP: the two special tokens). */
  private readonly fixed: ReadonlyMap<string, readonly string[]>;

  /**
   * @param merges pairs in rank order (rank = index).
   * @param fixedWords words returned as one unchanged symbol (transformers pre-seeds its cache with the special tokens).
   */
  constructor(merges: readonly (readonly [string, string])[], fixedWords: readonly string[] = [], cacheSize = 65_536) {
    this.ranks = new Map();
    merges.forEach(([a, b], rank) => {
      const key = pairKey(a, b);
      // as Python's dict(zip(merges, range(n))): a repeated pair keeps its last rank
      this.ranks.set(key, rank);
    });
    this.fixed = new Map(fixedWords.map((w) => [w, [w]]));
    this.cacheSize = cacheSize;
  }

  /** Number of merges. */
  get size(): number {
    return this.ranks.size;
  }

  /** Rank of the pair (a, b), or undefined. */
  rank(a: string, b: string): number | undefined {
    return this.ranks.get(pairKey(a, b));
  }

  /** The BPE symbols of a byte-level-encoded word (the last one ends with `</w>`). */
  encodeWord(word: string): readonly string[] {
    const fixed = this.fixed.get(word);
    if (fixed) return fixed;
    const cached = this.cache.get(word);
    if (cached) return cached;
    const result = this.merge(word);
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(word, result);
    return result;
  }

  private merge(token: string): string[] {
    const chars = Array.from(token);
    if (chars.length === 0) return [];
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1] as string}${END_OF_WORD}`];
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(pairKey(word[i] as string, word[i + 1] as string));
        if (r !== undefined && r < best) {
          best = r;
          first = word[i] as string;
          second = word[i + 1] as string;
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i] as string);
          i += 1;
        }
      }
      word = merged;
    }
    return word;
  }
}

/** Merge symbols never contain whitespace (they come from `line.split()`), so a space separates the pair. */
function pairKey(a: string, b: string): string {
  return `${a} ${b}`;
}
