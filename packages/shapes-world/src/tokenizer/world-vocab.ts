/**
 * The world's vocabulary in the format of transformers' slow `CLIPTokenizer` (vocab.json + merges.txt), built so
 * that every world word is exactly one token.
 *
 * CLIP's layout (openai `simple_tokenizer.py`): ids 0–255 are the 256 byte-level symbols in `bytes_to_unicode()`
 * order, 256–511 the same symbols with `</w>` appended, then one token per merge (its two parts concatenated), then
 * `<|startoftext|>` and `<|endoftext|>`. A word is encoded by starting from its byte symbols with `</w>` glued to the
 * last one and repeatedly merging the present pair of lowest rank.
 *
 * The merges come from byte-pair training on the world words (Sennrich et al. 2016): repeatedly merge the most
 * frequent adjacent pair (ties: the pair seen first) in every word until each word is a single symbol.
 */

/** CLIP's start and end tokens. */
export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** Word-end marker. */
const END_OF_WORD = '</w>';

/** Everything the tokenizer folder holds. */
export interface WorldVocabulary {
  /** token → id (bytes, bytes + `</w>`, merge results, then the two specials). */
  readonly vocab: Readonly<Record<string, number>>;
  /** Merge pairs in rank order. */
  readonly merges: readonly (readonly [string, string])[];
  /** merges.txt contents: the `#version: 0.2` header, then one `a b` line per merge. */
  readonly mergesText: string;
  /** tokenizer_config.json contents. */
  readonly tokenizerConfig: Readonly<Record<string, unknown>>;
  /** special_tokens_map.json contents. */
  readonly specialTokensMap: Readonly<Record<string, string>>;
}

/**
 * transformers' `bytes_to_unicode()` (copied from `models/clip/tokenization_clip.py`): a byte → printable character
 * table; the printable ranges map to themselves, the other 68 bytes to U+0100 + n. Returned in CLIP's vocabulary
 * order (the printable bytes first, then the remapped ones).
 */
export function bytesToUnicode(): { byte: number; char: string }[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = printable.map((byte) => ({ byte, char: String.fromCodePoint(byte) }));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) table.push({ byte: b, char: String.fromCodePoint(256 + n++) });
  }
  return table;
}

/**
 * Byte-pair training: merges that turn every word into one symbol.
 * @param words distinct non-empty words of ASCII letters (their byte symbols are the letters themselves).
 * @throws Error for an empty or non-letter word.
 */
export function trainMerges(words: readonly string[]): [string, string][] {
  const symbols = words.map((word) => {
    if (!/^[a-z]+$/u.test(word)) throw new Error(`trainMerges: "${word}" is not a non-empty lower-case ASCII word`);
    const chars = Array.from(word);
    chars[chars.length - 1] += END_OF_WORD;
    return chars;
  });
  const merges: [string, string][] = [];
  for (;;) {
    const counts = new Map<string, { pair: [string, string]; count: number }>();
    for (const word of symbols) {
      for (let i = 0; i + 1 < word.length; i++) {
        const pair: [string, string] = [word[i] as string, word[i + 1] as string];
        const key = `${pair[0]} ${pair[1]}`;
        const entry = counts.get(key);
        if (entry) entry.count++;
        else counts.set(key, { pair, count: 1 });
      }
    }
    if (counts.size === 0) return merges;
    let best: { pair: [string, string]; count: number } | undefined;
    for (const entry of counts.values()) if (best === undefined || entry.count > best.count) best = entry;
    const [a, b] = (best as { pair: [string, string] }).pair;
    merges.push([a, b]);
    for (let w = 0; w < symbols.length; w++) symbols[w] = mergePair(symbols[w] as string[], a, b);
  }
}

/** Replaces every non-overlapping occurrence of (a, b), left to right, by `a + b` (as CLIP's `bpe`). */
function mergePair(word: readonly string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < word.length; ) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      out.push(a + b);
      i += 2;
    } else {
      out.push(word[i] as string);
      i += 1;
    }
  }
  return out;
}

/**
 * Encodes one word with rank-ordered merges, as CLIP's `bpe()` does (used to check the vocabulary at build time).
 * @returns the BPE symbols of the word.
 */
export function applyMerges(word: string, merges: readonly (readonly [string, string])[]): string[] {
  const ranks = new Map(merges.map(([a, b], rank) => [`${a} ${b}`, rank]));
  const chars = Array.from(word);
  if (chars.length === 0) return [];
  chars[chars.length - 1] += END_OF_WORD;
  let symbols = chars;
  for (;;) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const rank = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (rank !== undefined && rank < best) {
        best = rank;
        at = i;
      }
    }
    if (at < 0) return symbols;
    symbols = mergePair(symbols, symbols[at] as string, symbols[at + 1] as string);
  }
}

/**
 * Builds the tokenizer files for `words`.
 * @param options.modelMaxLength context length T written to tokenizer_config.json (default 16).
 * @throws Error when a word would not be one token (cannot happen for trained merges; checked anyway).
 */
export function buildWorldVocabulary(words: readonly string[], options: { modelMaxLength?: number } = {}): WorldVocabulary {
  const merges = trainMerges(words);
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = next++;
  };
  const bytes = bytesToUnicode();
  for (const { char } of bytes) add(char);
  for (const { char } of bytes) add(char + END_OF_WORD);
  for (const [a, b] of merges) add(a + b);
  add(START_OF_TEXT);
  add(END_OF_TEXT);
  for (const word of words) {
    const symbols = applyMerges(word, merges);
    if (symbols.length !== 1 || !((symbols[0] as string) in vocab)) {
      throw new Error(`buildWorldVocabulary: "${word}" encodes to ${symbols.length} symbols (${symbols.join(' ')})`);
    }
  }
  const mergesText = ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';
  const specialTokensMap = { bos_token: START_OF_TEXT, eos_token: END_OF_TEXT, unk_token: END_OF_TEXT, pad_token: END_OF_TEXT };
  const tokenizerConfig = {
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: options.modelMaxLength ?? 16,
    do_lower_case: true,
    errors: 'replace',
    add_prefix_space: false,
    clean_up_tokenization_spaces: true,
    ...specialTokensMap,
  };
  return { vocab, merges, mergesText, tokenizerConfig, specialTokensMap };
}
