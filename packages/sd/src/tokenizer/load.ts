/**
 * Reads a CLIP tokenizer folder as transformers' `CLIPTokenizer.from_pretrained(dir)` does: `vocab.json` +
 * `merges.txt` (the slow tokenizer's files, preferred when present) or an HF tokenizers `tokenizer.json`, plus the
 * optional `tokenizer_config.json`, `special_tokens_map.json` (overrides the former) and `added_tokens.json`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError } from '@erase/core';
import { readJsonConfig } from '../io/config';
import type { CLIPTokenizerInit } from './clip-tokenizer';

/** transformers keeps `merges[1 : 49152 − 256 − 2 + 1]`: at most 48 894 merges after the `#version` header. */
export const CLIP_MAX_MERGES = 49152 - 256 - 2;

/**
 * Parses `merges.txt`: an optional `#version` header line, then one `a b` pair per line in rank order.
 * As transformers, at most `CLIP_MAX_MERGES` merges are kept (the cap only matters for longer files, such as
 * openai's full `bpe_simple_vocab_16e6.txt`); shorter files (small custom vocabularies) are used whole.
 * One deliberate difference: transformers always drops the first line, so a file without a header would lose its
 * first merge there; here only a line starting with `#` is treated as a header.
 * @throws FileFormatError naming the file and line for a line that is not two symbols.
 */
export function parseMergesTxt(text: string, file = 'merges.txt'): [string, string][] {
  const lines = text.trim().split('\n');
  const start = lines[0]?.startsWith('#') ? 1 : 0;
  const merges: [string, string][] = [];
  lines.slice(start, start + CLIP_MAX_MERGES).forEach((line, i) => {
    const parts = line.trim().split(/\s+/u).filter((p) => p.length > 0);
    if (parts.length === 0) return;
    if (parts.length !== 2) {
      throw new FileFormatError({ file, expected: 'one merge "a b" per line', problem: `line ${start + i + 1} is ${JSON.stringify(line)}` });
    }
    merges.push(parts as [string, string]);
  });
  return merges;
}

/**
 * The vocabulary, merges and added tokens of an HF tokenizers `tokenizer.json` with a CLIP-style BPE model
 * (`model.type` "BPE", `end_of_word_suffix` "</w>"). Every merge is used; bos/eos come from the post-processor,
 * unk from the model.
 * @throws FileFormatError naming the file when it is not such a tokenizer.
 */
export function parseTokenizerJson(json: Readonly<Record<string, unknown>>, file = 'tokenizer.json'): CLIPTokenizerInit {
  const model = json.model as Record<string, unknown> | undefined;
  const fail = (problem: string): never => {
    throw new FileFormatError({ file, expected: 'an HF tokenizers file with a CLIP BPE model', problem });
  };
  if (typeof model !== 'object' || model === null) return fail('has no "model" object');
  if (model.type !== undefined && model.type !== 'BPE') return fail(`model.type is ${JSON.stringify(model.type)}, not "BPE"`);
  const suffix = model.end_of_word_suffix;
  if (suffix !== undefined && suffix !== null && suffix !== '</w>') return fail(`model.end_of_word_suffix is ${JSON.stringify(suffix)}, not "</w>"`);
  const vocab = model.vocab;
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) return fail('model.vocab is not an object');
  if (!Array.isArray(model.merges)) return fail('model.merges is not an array');
  const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
    const pair = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((p) => typeof p === 'string')) {
      return fail(`model.merges[${i}] is not "a b" or ["a", "b"]`);
    }
    return pair as [string, string];
  });
  const addedTokens: Record<string, number> = {};
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) return fail('added_tokens is not an array');
  for (const [i, entry] of (added as unknown[]).entries()) {
    const { id, content } = (typeof entry === 'object' && entry !== null ? entry : {}) as { id?: unknown; content?: unknown };
    if (typeof content !== 'string' || !Number.isSafeInteger(id) || (id as number) < 0) return fail(`added_tokens[${i}] needs an integer "id" ≥ 0 and a string "content"`);
    addedTokens[content] = id as number;
  }
  const post = json.post_processor as { cls?: unknown; sep?: unknown } | null | undefined;
  const first = (v: unknown): string | undefined => (Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
  return {
    vocab: vocab as Record<string, number>,
    merges,
    addedTokens,
    ...definedOnly({
      bosToken: first(post?.cls),
      eosToken: first(post?.sep),
      unkToken: typeof model.unk_token === 'string' ? model.unk_token : undefined,
    }),
  };
}

/**
 * Everything needed to build a `CLIPTokenizer` from a folder.
 * @throws FileFormatError naming the folder or file when it is missing or malformed.
 */
export function readTokenizerFolder(dir: string): CLIPTokenizerInit {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new FileFormatError({ file: dir, expected: 'a tokenizer folder (vocab.json + merges.txt, or tokenizer.json)', problem: 'is not a folder' });
  }
  const path = (name: string): string | undefined => (existsSync(join(dir, name)) ? join(dir, name) : undefined);
  const vocabPath = path('vocab.json');
  const mergesPath = path('merges.txt');
  const tokenizerJsonPath = path('tokenizer.json');
  let base: CLIPTokenizerInit;
  if (vocabPath && mergesPath) {
    base = { vocab: readJsonConfig(vocabPath) as Record<string, number>, merges: parseMergesTxt(readText(mergesPath), mergesPath) };
  } else if (tokenizerJsonPath) {
    base = parseTokenizerJson(readJsonConfig(tokenizerJsonPath), tokenizerJsonPath);
  } else {
    throw new FileFormatError({
      file: dir,
      expected: 'vocab.json + merges.txt, or tokenizer.json',
      problem: `has ${vocabPath ? 'vocab.json but no merges.txt' : mergesPath ? 'merges.txt but no vocab.json' : 'neither'}`,
    });
  }
  const configPath = path('tokenizer_config.json');
  const config = configPath ? readJsonConfig(configPath) : {};
  const mapPath = path('special_tokens_map.json');
  const specialMap = mapPath ? readJsonConfig(mapPath) : {};
  const addedPath = path('added_tokens.json');
  const addedTokens: Record<string, number> = { ...(base.addedTokens as Record<string, number> | undefined) };
  const isId = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
  if (addedPath) {
    for (const [token, id] of Object.entries(readJsonConfig(addedPath))) {
      if (!isId(id)) throw new FileFormatError({ file: addedPath, expected: 'an object of token → integer id ≥ 0', problem: `${JSON.stringify(token)} maps to ${JSON.stringify(id)}` });
      addedTokens[token] = id as number;
    }
  }
  // transformers ≥ 4.34 writes added tokens into tokenizer_config.json as {"id": {"content": …}}
  const decoder = config.added_tokens_decoder ?? {};
  if (typeof decoder !== 'object' || decoder === null || Array.isArray(decoder)) {
    throw new FileFormatError({ file: configPath ?? dir, expected: 'added_tokens_decoder as an object of id → {content}', problem: `it is ${JSON.stringify(decoder)}` });
  }
  for (const [id, entry] of Object.entries(decoder as Record<string, unknown>)) {
    const content = typeof entry === 'object' && entry !== null ? (entry as { content?: unknown }).content : undefined;
    if (typeof content !== 'string') continue;
    if (!/^\d+$/.test(id) || !isId(Number(id))) {
      throw new FileFormatError({ file: configPath ?? dir, expected: 'added_tokens_decoder keys that are integer ids', problem: `key ${JSON.stringify(id)}` });
    }
    addedTokens[content] = Number(id);
  }
  const special = (key: string): string | undefined => tokenContent(specialMap[key]) ?? tokenContent(config[key]);
  const maxLength = config.model_max_length;
  const cleanUp = config.clean_up_tokenization_spaces;
  return {
    ...base,
    addedTokens,
    ...definedOnly({
      bosToken: special('bos_token') ?? base.bosToken,
      eosToken: special('eos_token') ?? base.eosToken,
      unkToken: special('unk_token') ?? base.unkToken,
      padToken: special('pad_token'),
      modelMaxLength: modelMaxLength(maxLength, configPath ?? dir),
      cleanUpTokenizationSpaces: typeof cleanUp === 'boolean' ? cleanUp : undefined,
    }),
  };
}

/** `model_max_length`: a positive integer (transformers writes 1e30 for "no limit": capped). */
function modelMaxLength(value: unknown, file: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value >= 1) || (value <= Number.MAX_SAFE_INTEGER && !Number.isInteger(value))) {
    throw new FileFormatError({ file, expected: 'model_max_length as a positive integer', problem: `it is ${JSON.stringify(value)}` });
  }
  return Math.min(value, Number.MAX_SAFE_INTEGER);
}

/** A special token as written by transformers: a string, or an AddedToken object `{content: …}`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: 'a readable text file', problem: 'cannot be read', cause });
  }
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
