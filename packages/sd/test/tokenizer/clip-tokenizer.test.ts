/**
 * CLIPTokenizer on a small hand-built vocabulary (no fixtures): the transformers text path rule by rule, merges
 * parsing (header, cap, small files), folder loading (tokenizer_config / special_tokens_map / added tokens,
 * SD 2.x padding with `!`), tokenizer.json, and typed errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import {
  BYTE_TO_UNICODE,
  CLIPTokenizer,
  CLIP_MAX_MERGES,
  basicClean,
  bytesToUnicodeOrder,
  parseMergesTxt,
} from '../../src/tokenizer/index';

const WORDS = ['a', 'cat', 'dog', 'photo', 'of', 'the', 'café', 'ca', 'it', 's'];

/** CLIP-style vocabulary: 256 byte symbols, the same with `</w>`, one merge chain per word, then bos/eos. */
function smallVocab(): { vocab: Record<string, number>; merges: [string, string][] } {
  const symbols = bytesToUnicodeOrder();
  const vocab: Record<string, number> = {};
  symbols.forEach((c, i) => (vocab[c] = i));
  symbols.forEach((c, i) => (vocab[`${c}</w>`] = 256 + i));
  const merges: [string, string][] = [];
  const add = (a: string, b: string): void => {
    if (merges.some(([x, y]) => x === a && y === b)) return;
    merges.push([a, b]);
    vocab[a + b] ??= Object.keys(vocab).length;
  };
  for (const word of WORDS) {
    const chars = Array.from(new TextEncoder().encode(word), (byte) => BYTE_TO_UNICODE[byte] as string);
    chars[chars.length - 1] += '</w>';
    let left = chars[0] as string;
    for (const next of chars.slice(1)) {
      add(left, next);
      left += next;
    }
  }
  vocab['<|startoftext|>'] = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  return { vocab, merges };
}

const { vocab, merges } = smallVocab();
const BOS = vocab['<|startoftext|>'] as number;
const EOS = vocab['<|endoftext|>'] as number;
const id = (token: string): number => {
  const v = vocab[token];
  if (v === undefined) throw new Error(`no ${token}`);
  return v;
};

describe('the text path', () => {
  const tokenizer = new CLIPTokenizer({ vocab, merges });

  it('BasicTokenizer clean-up: controls, whitespace, CJK, NFC, lower case', () => {
    expect(basicClean('  A\tPhoto\n\nOF\r\nthe\u00a0CAT  ')).toBe('a photo of the cat');
    expect(basicClean('x\u0000y\ufffdz\u200bw\u0007v')).toBe('xyzwv');
    // ideographs get spaces around them; the hiragana の does not, so it keeps one space from 本's right side
    expect(basicClean('日本の風景')).toBe('日 本 の 風 景');
    expect(basicClean('一只猫cat')).toBe('一 只 猫 cat');
    expect(basicClean('ca\u0301fe\u0301')).toBe('cáfé'.normalize('NFC'));
    expect(basicClean('one\u2028two')).toBe('one two');
    expect(basicClean('ΟΔΥΣΣΕΥΣ')).toBe('οδυσσευς');
    expect(basicClean('')).toBe('');
  });

  it('BPE with </w> word ends, the CLIP regex and byte-level fallback', () => {
    expect(tokenizer.tokenize('A photo of the CAT')).toEqual(['a</w>', 'photo</w>', 'of</w>', 'the</w>', 'cat</w>']);
    // "cats": the chain for "cat" ends in "t</w>", so "t" before "s" stays alone
    expect(tokenizer.tokenize('cats')).toEqual(['ca', 't', 's</w>']);
    // contractions split as 's; punctuation runs stay one pre-token; digits are single
    expect(tokenizer.tokenize("it's")).toEqual(['it</w>', "'", 's</w>']);
    expect(tokenizer.tokenize('cat!!, 42')).toEqual(['cat</w>', '!', '!', ',</w>', '4</w>', '2</w>']);
    // UTF-8 bytes as byte-level symbols: é = C3 A9 → "Ã" "©"; the word café has its own merge chain
    expect(tokenizer.tokenize('Café')).toEqual(['cafÃ©</w>']);
    expect(tokenizer.tokenize('é')).toEqual(['Ã', '©</w>']);
  });

  it('special tokens: literal ones are split out, upper-case ones reach BPE and still map to the token', () => {
    expect(tokenizer.encode('a <|endoftext|> cat')).toEqual([BOS, id('a</w>'), EOS, id('cat</w>'), EOS]);
    expect(tokenizer.encode('cat<|startoftext|>dog')).toEqual([BOS, id('cat</w>'), BOS, id('dog</w>'), EOS]);
    expect(tokenizer.encode('<|ENDOFTEXT|>')).toEqual([BOS, EOS, EOS]);
  });

  it('padding, truncation and masks follow transformers', () => {
    const out = tokenizer.call(['a cat', 'the dog of a cat'], { padding: 'max_length', maxLength: 6, truncation: true });
    expect(out.inputIds).toEqual([
      [BOS, id('a</w>'), id('cat</w>'), EOS, EOS, EOS],
      [BOS, id('the</w>'), id('dog</w>'), id('of</w>'), id('a</w>'), EOS],
    ]);
    expect(out.attentionMask).toEqual([
      [1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 1],
    ]);
    expect(out.lengths).toEqual([4, 6]);
    const longest = tokenizer.call(['a', 'a cat'], { padding: true });
    expect(longest.inputIds).toEqual([[BOS, id('a</w>'), EOS, EOS], [BOS, id('a</w>'), id('cat</w>'), EOS]]);
    // no truncation: rows longer than maxLength are kept whole, as transformers
    expect(tokenizer.call('the dog of a cat', { padding: 'max_length', maxLength: 4 }).inputIds[0]!.length).toBe(7);
    expect(tokenizer.call('a cat', { addSpecialTokens: false }).inputIds).toEqual([[id('a</w>'), id('cat</w>')]]);
    expect(tokenizer.call('').inputIds).toEqual([[BOS, EOS]]);
  });

  it('decode reverses byte-level encoding and can skip special tokens', () => {
    expect(tokenizer.decode(tokenizer.encode('A café, the cat!'), { skipSpecialTokens: true })).toBe('a café, the cat!');
    expect(tokenizer.decode(tokenizer.encode('cats'))).toBe('<|startoftext|>cats <|endoftext|>');
    expect(tokenizer.decode(tokenizer.encode('cats'), { cleanUpTokenizationSpaces: false, skipSpecialTokens: true })).toBe('cats');
    expect(() => tokenizer.decode([99999])).toThrow(expect.objectContaining({ code: 'ERASE_INVALID_OPTION' }));
  });

  it('rejects bad options and inputs', () => {
    expect(() => tokenizer.call('a', { truncation: true, maxLength: 1 })).toThrow(InvalidOptionError);
    expect(() => tokenizer.call('a', { padding: 'max_length', maxLength: 2 ** 30 })).toThrow(InvalidOptionError);
    expect(() => tokenizer.call([3 as unknown as string])).toThrow(InvalidOptionError);
    expect(() => new CLIPTokenizer({ vocab: { a: -1 }, merges: [] })).toThrow(InvalidOptionError);
    expect(() => new CLIPTokenizer({ vocab, merges: [['a b', 'c']] })).toThrow(InvalidOptionError);
  });
});

describe('merges.txt', () => {
  it('drops a #version header, keeps every line of a small file, and caps long files at 48 894 merges', () => {
    expect(parseMergesTxt('#version: 0.2\nc a\nca t</w>\n')).toEqual([['c', 'a'], ['ca', 't</w>']]);
    expect(parseMergesTxt('c a\nca t</w>')).toEqual([['c', 'a'], ['ca', 't</w>']]);
    const long = ['#version: 0.2', ...Array.from({ length: CLIP_MAX_MERGES + 10 }, (_, i) => `x${i} y${i}`)].join('\n');
    const parsed = parseMergesTxt(long);
    expect(parsed.length).toBe(48894);
    expect(parsed[48893]).toEqual(['x48893', 'y48893']);
    expect(() => parseMergesTxt('#version: 0.2\na b c\n', 'm.txt')).toThrow(/m\.txt: line 2/);
  });
});

describe('loading folders', () => {
  const dirs: string[] = [];
  const folder = (files: Record<string, string | object>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-tokenizer-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return dir;
  };
  const mergesTxt = ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('SD 2.x settings: pad "!" (id 0) from tokenizer_config, overridden by special_tokens_map', () => {
    const sd2 = CLIPTokenizer.fromPretrained(folder({ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'tokenizer_config.json': { pad_token: '!', model_max_length: 8 } }));
    expect(sd2.padTokenId).toBe(0);
    expect(sd2.call('a cat', { padding: 'max_length', truncation: true }).inputIds).toEqual([[BOS, id('a</w>'), id('cat</w>'), EOS, 0, 0, 0, 0]]);
    const overridden = CLIPTokenizer.fromPretrained(
      folder({
        'vocab.json': vocab,
        'merges.txt': mergesTxt,
        'tokenizer_config.json': { pad_token: '!' },
        'special_tokens_map.json': { pad_token: { content: '<|endoftext|>', lstrip: false } },
      }),
    );
    expect(overridden.padTokenId).toBe(EOS);
    expect(overridden.modelMaxLength).toBe(77);
  });

  it('added tokens (added_tokens.json) are matched verbatim and get their own ids', () => {
    const next = Object.keys(vocab).length;
    const t = CLIPTokenizer.fromPretrained(folder({ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'added_tokens.json': { '<cat-toy>': next } }));
    expect(t.encode('a <cat-toy> dog')).toEqual([BOS, id('a</w>'), next, id('dog</w>'), EOS]);
    expect(t.vocab.get('<cat-toy>')).toBe(next);
    expect(t.decode([id('a</w>'), next, id('dog</w>')])).toBe('a <cat-toy> dog');
  });

  it('tokenizer.json with merges as pairs gives the same ids as vocab.json + merges.txt', () => {
    const slow = CLIPTokenizer.fromPretrained(folder({ 'vocab.json': vocab, 'merges.txt': mergesTxt }));
    const fast = CLIPTokenizer.fromPretrained(
      folder({ 'tokenizer.json': { model: { type: 'BPE', end_of_word_suffix: '</w>', unk_token: '<|endoftext|>', vocab, merges } } }),
    );
    for (const text of ['A photo of the cat', 'cats and dogs!', 'café <|endoftext|> 12']) expect(fast.encode(text)).toEqual(slow.encode(text));
  });

  it('raises FileFormatError naming what is missing or malformed', () => {
    expect(() => CLIPTokenizer.fromPretrained(join(tmpdir(), 'erase-no-such-folder'))).toThrow(FileFormatError);
    expect(() => CLIPTokenizer.fromPretrained(folder({ 'vocab.json': vocab }))).toThrow(/vocab\.json but no merges\.txt/);
    expect(() => CLIPTokenizer.fromPretrained(folder({ 'tokenizer.json': { model: { type: 'WordPiece', vocab: {} } } }))).toThrow(/"BPE"/);
    expect(() => CLIPTokenizer.fromPretrained(folder({ 'vocab.json': '{not json', 'merges.txt': mergesTxt }))).toThrow(/not valid JSON/);
  });

  it('malformed entries in otherwise readable files give FileFormatError naming the file or folder, never a TypeError', () => {
    const bpe = { type: 'BPE', end_of_word_suffix: '</w>', vocab, merges };
    const cases: [Record<string, string | object>, RegExp][] = [
      [{ 'tokenizer.json': { model: bpe, added_tokens: {} } }, /tokenizer\.json.*added_tokens is not an array/],
      [{ 'tokenizer.json': { model: bpe, added_tokens: [null] } }, /tokenizer\.json.*added_tokens\[0\] needs/],
      [{ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'added_tokens.json': { '<x>': 'seven' } }, /added_tokens\.json.*"<x>" maps to "seven"/],
      [{ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'tokenizer_config.json': { model_max_length: 77.5 } }, /tokenizer_config\.json.*model_max_length/],
      [{ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'tokenizer_config.json': { added_tokens_decoder: { x: { content: '<y>' } } } }, /tokenizer_config\.json.*key "x"/],
      [{ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'tokenizer_config.json': { added_tokens_decoder: [] } }, /added_tokens_decoder as an object/],
      [{ 'vocab.json': { ...vocab, a: -1 }, 'merges.txt': mergesTxt }, /a CLIP tokenizer folder/],
    ];
    for (const [files, pattern] of cases) {
      const dir = folder(files);
      let error: unknown;
      try {
        CLIPTokenizer.fromPretrained(dir);
      } catch (e) {
        error = e;
      }
      expect(FileFormatError.isInstance(error), `${JSON.stringify(files).slice(0, 80)}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).toContain(dir);
    }
    // transformers' "no limit" (1e30) is still accepted, capped
    expect(CLIPTokenizer.fromPretrained(folder({ 'vocab.json': vocab, 'merges.txt': mergesTxt, 'tokenizer_config.json': { model_max_length: 1e30 } })).modelMaxLength).toBe(Number.MAX_SAFE_INTEGER);
  });
});
