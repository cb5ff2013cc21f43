/**
 * The CLIP BPE tokenizer, equal to transformers 4.33's slow `CLIPTokenizer` without ftfy (the default path):
 *
 *   text ─ split out added/special tokens (exact match, e.g. a literal `<|endoftext|>`)
 *        ─ BasicTokenizer clean-up (basic-tokenizer.ts)
 *        ─ CLIP pre-token regex ─ UTF-8 → byte-level characters ─ BPE with `</w>` word ends (bpe.ts)
 *        ─ ids (unknown tokens → unk), then `<bos> … <eos>`, truncation and padding as `tokenizer(...)`.
 *
 * Loading from a folder (vocab.json + merges.txt, or tokenizer.json) lives in `load.ts`.
 */
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { basicClean, pythonStrip } from './basic-tokenizer';
import { BpeModel } from './bpe';
import { byteDecode, byteEncode } from './byte-level';
import { readTokenizerFolder } from './load';

/** CLIP's pre-tokenizer pattern (transformers compiles it with `re.IGNORECASE`). */
const CLIP_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** Padding to more than this many tokens is refused (a config with model_max_length = 1e30 must not allocate). */
const MAX_PADDED_LENGTH = 1 << 20;

/** What a `CLIPTokenizer` is built from (in memory). */
export interface CLIPTokenizerInit {
  /** token → id. */
  readonly vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** Merge pairs in rank order (no header line, no cap: every pair given is used). */
  readonly merges: readonly (readonly [string, string])[];
  /** Default `<|startoftext|>`. */
  readonly bosToken?: string;
  /** Default `<|endoftext|>`. */
  readonly eosToken?: string;
  /** Default `<|endoftext|>`. */
  readonly unkToken?: string;
  /** Default `<|endoftext|>` (SD 1.x); SD 2.x uses `!` (id 0). */
  readonly padToken?: string;
  /** Default 77. */
  readonly modelMaxLength?: number;
  /** Extra tokens matched verbatim in the text before clean-up (textual-inversion words, …): token → id. */
  readonly addedTokens?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** Default true, as transformers' `clean_up_tokenization_spaces`. */
  readonly cleanUpTokenizationSpaces?: boolean;
}

/** Options of `call`, as transformers' `tokenizer(texts, padding=…, max_length=…, truncation=…)`. */
export interface CLIPTokenizeOptions {
  /** `'max_length'` pads every row to `maxLength`; `'longest'` (or true) to the longest row; false: no padding. */
  readonly padding?: 'max_length' | 'longest' | 'do_not_pad' | boolean;
  /** Defaults to `modelMaxLength` when padding to max length or truncating. */
  readonly maxLength?: number;
  /** Keep `<bos>` + the first maxLength − 2 tokens + `<eos>`. Default false. */
  readonly truncation?: boolean;
  /** Add `<bos>`/`<eos>` (default true). */
  readonly addSpecialTokens?: boolean;
}

/**
 * Token ids per prompt. Shapes: `inputIds` [B][L], `attentionMask` [B][L] (1 over real tokens including
 * `<bos>`/`<eos>`, 0 over padding), `lengths[b]` = the sum of row b's mask. Assignable to core's `TokenizedBatch`.
 */
export interface CLIPTokenizerOutput {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly lengths: number[];
}

/** Options of `decode`. */
export interface CLIPDecodeOptions {
  /** Drop bos/eos/unk/pad ids (default false). */
  readonly skipSpecialTokens?: boolean;
  /** Default: the tokenizer's `cleanUpTokenizationSpaces`. */
  readonly cleanUpTokenizationSpaces?: boolean;
}

/**
 * CLIP's byte-level BPE tokenizer (transformers 4.33 slow `CLIPTokenizer`, ftfy absent).
 * Stateless apart from a BPE cache; safe to share.
 */
export class CLIPTokenizer {
  readonly bosToken: string;
  readonly eosToken: string;
  readonly unkToken: string;
  readonly padToken: string;
  readonly modelMaxLength: number;
  readonly cleanUpTokenizationSpaces: boolean;
  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly added: Map<string, number>;
  private readonly addedByLength: string[];
  private readonly bpe: BpeModel;
  private fullVocab: ReadonlyMap<string, number> | undefined;

  /** @throws InvalidOptionError for a malformed vocabulary, merges, or special tokens. */
  constructor(init: CLIPTokenizerInit) {
    this.encoder = toMap('vocab', init.vocab);
    this.decoder = new Map();
    for (const [token, id] of this.encoder) this.decoder.set(id, token);
    this.bosToken = init.bosToken ?? '<|startoftext|>';
    this.eosToken = init.eosToken ?? '<|endoftext|>';
    this.unkToken = init.unkToken ?? '<|endoftext|>';
    this.padToken = init.padToken ?? '<|endoftext|>';
    this.modelMaxLength = init.modelMaxLength ?? 77;
    this.cleanUpTokenizationSpaces = init.cleanUpTokenizationSpaces ?? true;
    if (!Number.isSafeInteger(this.modelMaxLength) || this.modelMaxLength < 2) {
      throw new InvalidOptionError({ option: 'modelMaxLength', expected: 'an integer ≥ 2', received: init.modelMaxLength });
    }
    // added tokens: given ones, then every special token (added at the next id when not in the vocabulary)
    this.added = new Map();
    for (const [token, id] of toMap('addedTokens', init.addedTokens ?? {})) this.addToken(token, id);
    for (const special of [this.bosToken, this.eosToken, this.unkToken, this.padToken]) {
      this.addToken(special, this.added.get(special) ?? this.encoder.get(special) ?? this.nextId());
    }
    this.addedByLength = [...this.added.keys()].sort((a, b) => b.length - a.length);
    for (const [a, b] of init.merges) {
      if (/\s/u.test(a) || /\s/u.test(b) || a.length === 0 || b.length === 0) {
        throw new InvalidOptionError({ option: 'merges', expected: 'pairs of non-empty symbols without whitespace', received: `${a} ${b}` });
      }
    }
    this.bpe = new BpeModel(init.merges, ['<|startoftext|>', '<|endoftext|>']);
  }

  /**
   * Loads a tokenizer folder (vocab.json + merges.txt, else tokenizer.json; plus tokenizer_config.json,
   * special_tokens_map.json and added_tokens.json when present). Reads files only; no network.
   * @throws FileFormatError naming the folder or file when it is missing or malformed.
   */
  static fromPretrained(dir: string): CLIPTokenizer {
    const init = readTokenizerFolder(dir);
    try {
      return new CLIPTokenizer(init);
    } catch (error) {
      // the files parsed but do not make a tokenizer (e.g. a negative id in vocab.json): name the folder
      if (!InvalidOptionError.isInstance(error)) throw error;
      throw new FileFormatError({ file: dir, expected: 'a CLIP tokenizer folder', problem: error.message, cause: error });
    }
  }

  /** Number of entries of the base vocabulary (transformers `vocab_size`). */
  get vocabSize(): number {
    return this.encoder.size;
  }

  /** Number of merges in use. */
  get numMerges(): number {
    return this.bpe.size;
  }

  /** token → id, the base vocabulary plus added tokens (transformers `get_vocab()`). Built once; read-only. */
  get vocab(): ReadonlyMap<string, number> {
    this.fullVocab ??= new Map([...this.encoder, ...this.added]);
    return this.fullVocab;
  }

  get bosTokenId(): number {
    return this.tokenToId(this.bosToken);
  }

  get eosTokenId(): number {
    return this.tokenToId(this.eosToken);
  }

  get padTokenId(): number {
    return this.tokenToId(this.padToken);
  }

  get unkTokenId(): number {
    return this.tokenToId(this.unkToken);
  }

  /** The token strings of `text` (no bos/eos), as transformers' `tokenize`. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const piece of this.splitAddedTokens(text)) {
      if (piece.added) {
        tokens.push(piece.text);
        continue;
      }
      const cleaned = basicClean(piece.text);
      for (const match of cleaned.matchAll(CLIP_PATTERN)) {
        tokens.push(...this.bpe.encodeWord(byteEncode(match[0])));
      }
    }
    return tokens;
  }

  /** Token → id (added tokens first, then the vocabulary, else the unk id). */
  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.tokenToId(t));
  }

  /** Id → token. @throws InvalidOptionError for an id outside the vocabulary. */
  convertIdsToTokens(ids: readonly number[], skipSpecialTokens = false): string[] {
    const specialIds = new Set([this.bosTokenId, this.eosTokenId, this.unkTokenId, this.padTokenId]);
    const out: string[] = [];
    for (const id of ids) {
      if (skipSpecialTokens && specialIds.has(id)) continue;
      const token = this.addedById(id) ?? this.decoder.get(id);
      if (token === undefined) {
        throw new InvalidOptionError({ option: 'ids', expected: `token ids in the vocabulary (0…${this.nextId() - 1})`, received: id });
      }
      out.push(token);
    }
    return out;
  }

  /** Ids of one text: `<bos>` + tokens + `<eos>` (untruncated unless asked; see `call` for the options). */
  encode(text: string, options: CLIPTokenizeOptions = {}): number[] {
    return this.call(text, options).inputIds[0] as number[];
  }

  /**
   * Tokenizes prompts as transformers' `tokenizer(texts, padding=…, max_length=…, truncation=…)`. SD pipelines
   * use `{ padding: 'max_length', maxLength: 77, truncation: true }`.
   * @throws InvalidOptionError for a maxLength below 2 (with truncation) or below 1.
   */
  call(texts: string | readonly string[], options: CLIPTokenizeOptions = {}): CLIPTokenizerOutput {
    const list = typeof texts === 'string' ? [texts] : texts;
    const padding = options.padding === true ? 'longest' : options.padding === false || options.padding === undefined ? 'do_not_pad' : options.padding;
    const addSpecial = options.addSpecialTokens ?? true;
    const truncation = options.truncation ?? false;
    const needsLength = truncation || padding === 'max_length';
    const maxLength = options.maxLength ?? (needsLength ? this.modelMaxLength : undefined);
    const special = addSpecial ? 2 : 0;
    if (maxLength !== undefined && (!Number.isSafeInteger(maxLength) || maxLength < 1 || (truncation && maxLength < special))) {
      throw new InvalidOptionError({ option: 'maxLength', expected: `an integer ≥ ${Math.max(1, truncation ? special : 1)}`, received: maxLength });
    }
    if (padding === 'max_length' && (maxLength as number) > MAX_PADDED_LENGTH) {
      throw new InvalidOptionError({ option: 'maxLength', expected: `at most ${MAX_PADDED_LENGTH} when padding to max length`, received: maxLength });
    }
    const rows = list.map((text) => {
      if (typeof text !== 'string') throw new InvalidOptionError({ option: 'texts', expected: 'strings', received: text });
      let ids = this.convertTokensToIds(this.tokenize(text));
      if (truncation && maxLength !== undefined && ids.length + special > maxLength) ids = ids.slice(0, maxLength - special);
      return addSpecial ? [this.bosTokenId, ...ids, this.eosTokenId] : ids;
    });
    const target =
      padding === 'max_length' ? (maxLength as number) : padding === 'longest' ? Math.max(0, ...rows.map((r) => r.length)) : 0;
    const pad = this.padTokenId;
    const inputIds = rows.map((r) => (r.length < target ? [...r, ...new Array<number>(target - r.length).fill(pad)] : r));
    const attentionMask = rows.map((r) => [...new Array<number>(r.length).fill(1), ...new Array<number>(Math.max(0, target - r.length)).fill(0)]);
    return { inputIds, attentionMask, lengths: rows.map((r) => r.length) };
  }

  /**
   * Ids → text as transformers' `decode`: byte-level decoding, `</w>` → space, trimmed; added tokens joined with
   * spaces; optional clean-up of spaces before punctuation and contractions.
   * @throws InvalidOptionError for an id outside the vocabulary.
   */
  decode(ids: readonly number[], options: CLIPDecodeOptions = {}): string {
    const tokens = this.convertIdsToTokens(ids, options.skipSpecialTokens ?? false);
    const subTexts: string[] = [];
    let current: string[] = [];
    const flush = (): void => {
      const s = current.length > 0 ? this.tokensToString(current) : '';
      if (s.length > 0) subTexts.push(s);
      current = [];
    };
    for (const token of tokens) {
      // tokens added beyond the vocabulary are kept verbatim (transformers' legacy added tokens)
      if (this.added.has(token) && !this.encoder.has(token) && !this.isSpecial(token)) {
        flush();
        subTexts.push(token);
      } else {
        current.push(token);
      }
    }
    if (current.length > 0) subTexts.push(this.tokensToString(current));
    const text = subTexts.join(' ');
    return (options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces) ? cleanUpTokenization(text) : text;
  }

  /** transformers `convert_tokens_to_string`: byte-level characters → UTF-8 (invalid bytes → U+FFFD). */
  tokensToString(tokens: readonly string[]): string {
    const bytes = byteDecode(tokens.join(''));
    return pythonStrip(new TextDecoder('utf-8', { fatal: false }).decode(bytes).replaceAll('</w>', ' '));
  }

  private tokenToId(token: string): number {
    return this.added.get(token) ?? this.encoder.get(token) ?? (this.added.get(this.unkToken) as number);
  }

  private isSpecial(token: string): boolean {
    return token === this.bosToken || token === this.eosToken || token === this.unkToken || token === this.padToken;
  }

  private addedById(id: number): string | undefined {
    for (const [token, i] of this.added) if (i === id && !this.encoder.has(token)) return token;
    return undefined;
  }

  private nextId(): number {
    let max = -1;
    for (const id of this.encoder.values()) max = Math.max(max, id);
    for (const id of this.added.values()) max = Math.max(max, id);
    return max + 1;
  }

  private addToken(token: string, id: number): void {
    if (token.length === 0 || !Number.isSafeInteger(id) || id < 0) {
      throw new InvalidOptionError({ option: 'addedTokens', expected: 'non-empty tokens with non-negative integer ids', received: `${token}: ${id}` });
    }
    this.added.set(token, id);
  }

  /** Splits out added tokens (leftmost match, longest first at a position), as transformers' added-tokens trie. */
  private splitAddedTokens(text: string): { text: string; added: boolean }[] {
    const out: { text: string; added: boolean }[] = [];
    let rest = text;
    while (rest.length > 0) {
      let at = -1;
      let found = '';
      for (const token of this.addedByLength) {
        const i = rest.indexOf(token);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          found = token;
        }
      }
      if (at < 0) {
        out.push({ text: rest, added: false });
        break;
      }
      if (at > 0) out.push({ text: rest.slice(0, at), added: false });
      out.push({ text: found, added: true });
      rest = rest.slice(at + found.length);
    }
    return out;
  }
}

/** transformers `clean_up_tokenization`: removes spaces before punctuation and inside English contractions. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

function toMap(option: string, value: ReadonlyMap<string, number> | Readonly<Record<string, number>>): Map<string, number> {
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as Record<string, number>);
  for (const [token, id] of entries) {
    if (typeof token !== 'string' || !Number.isSafeInteger(id) || (id as number) < 0) {
      throw new InvalidOptionError({ option, expected: 'token → non-negative integer id', received: `${String(token)}: ${String(id)}` });
    }
  }
  return new Map(entries as [string, number][]);
}
