/**
 * CLIPTokenizer parity with transformers 4.33's slow CLIPTokenizer (ftfy absent) on the 60 prompts of
 * ../shared/fixtures/parity/clip-tokenizer, reading the real vocabulary from ../shared/fixtures/clip-bpe.
 * The ftfy fields of the fixture are informational and not compared.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIPTokenizer, parseMergesTxt } from '../../src/tokenizer/index';
import { optionalFixture } from '../fixture-gate';

interface PromptCase {
  readonly id: number;
  readonly text: string;
  readonly input_ids: number[];
  readonly attention_mask: number[];
  readonly ids_untruncated: number[];
  readonly tokens_untruncated: string[];
  readonly n_untruncated: number;
  readonly truncated: boolean;
}

const bpeDir = optionalFixture('clip-bpe');
const promptsPath = optionalFixture('parity', 'clip-tokenizer', 'prompts.json');
const available = bpeDir !== undefined && promptsPath !== undefined;

describe.skipIf(!available)('CLIPTokenizer equals transformers CLIPTokenizer (slow, no ftfy)', () => {
  let tokenizer: CLIPTokenizer;
  let cases: PromptCase[];

  beforeAll(() => {
    tokenizer = CLIPTokenizer.fromPretrained(bpeDir as string);
    cases = (JSON.parse(readFileSync(promptsPath as string, 'utf8')) as { cases: PromptCase[] }).cases;
  });

  it('loads the SD 1.x settings and the capped merges', () => {
    expect(cases.length).toBe(60);
    expect(tokenizer.vocabSize).toBe(49408);
    expect(tokenizer.numMerges).toBe(48894);
    expect([tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.unkTokenId]).toEqual([49406, 49407, 49407, 49407]);
    expect(tokenizer.modelMaxLength).toBe(77);
    expect(tokenizer.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });

  it('gives the exact ids, masks, untruncated ids and token strings for all 60 prompts', () => {
    const mismatches: string[] = [];
    for (const c of cases) {
      const padded = tokenizer.call(c.text, { padding: 'max_length', maxLength: 77, truncation: true });
      const untruncated = tokenizer.call(c.text, { padding: 'longest' });
      const tokens = ['<|startoftext|>', ...tokenizer.tokenize(c.text), '<|endoftext|>'];
      const checks: [string, unknown, unknown][] = [
        ['input_ids', padded.inputIds[0], c.input_ids],
        ['attention_mask', padded.attentionMask[0], c.attention_mask],
        ['ids_untruncated', untruncated.inputIds[0], c.ids_untruncated],
        ['tokens_untruncated', tokens, c.tokens_untruncated],
      ];
      for (const [field, actual, expected] of checks) {
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          mismatches.push(`#${c.id} ${JSON.stringify(c.text)} ${field}:\n  actual   ${JSON.stringify(actual)}\n  expected ${JSON.stringify(expected)}`);
        }
      }
      expect(padded.lengths[0]).toBe(Math.min(c.n_untruncated, 77));
      expect(c.n_untruncated > 77).toBe(c.truncated);
    }
    expect(mismatches.length, `${mismatches.length} mismatching fields:\n${mismatches.slice(0, 10).join('\n')}`).toBe(0);
  });

  it('tokenizes a batch in one call, padding to the longest row', () => {
    const texts = cases.map((c) => c.text);
    const batch = tokenizer.call(texts, { padding: 'max_length', maxLength: 77, truncation: true });
    expect(batch.inputIds).toEqual(cases.map((c) => c.input_ids));
    expect(batch.attentionMask).toEqual(cases.map((c) => c.attention_mask));
    const pair = tokenizer.call([cases[1]!.text, cases[4]!.text], { padding: 'longest' });
    const longest = Math.max(cases[1]!.n_untruncated, cases[4]!.n_untruncated);
    expect(pair.inputIds.map((r) => r.length)).toEqual([longest, longest]);
    expect(pair.inputIds[0]!.slice(0, cases[1]!.n_untruncated)).toEqual(cases[1]!.ids_untruncated);
    expect(pair.attentionMask[0]!.filter((m) => m === 1).length).toBe(cases[1]!.n_untruncated);
  });

  it('decodes ids back to the cleaned, lower-cased text', () => {
    const decode = (text: string): string => tokenizer.decode(tokenizer.encode(text), { skipSpecialTokens: true });
    expect(decode('A photo of the AIRPLANE')).toBe('a photo of the airplane');
    expect(decode('Hello, World!')).toBe('hello, world!');
    // transformers' clean_up_tokenization joins " 's" and " n't" but not " 't"
    expect(decode("don't stop, it's John's car")).toBe("don 't stop, it's john's car");
    expect(decode('Crème Brûlée 🚀')).toBe('crème brûlée 🚀');
    expect(tokenizer.decode([49406, 320, 1125, 49407])).toBe('<|startoftext|>a photo <|endoftext|>');
  });

  describe('from a tokenizer.json built from vocab.json + merges.txt', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'erase-clip-tokenizer-'));
      const vocab = JSON.parse(readFileSync(join(bpeDir as string, 'vocab.json'), 'utf8')) as Record<string, number>;
      const merges = parseMergesTxt(readFileSync(join(bpeDir as string, 'merges.txt'), 'utf8')).map(([a, b]) => `${a} ${b}`);
      const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
      const tokenizerJson = {
        version: '1.0',
        added_tokens: [special(49406, '<|startoftext|>'), special(49407, '<|endoftext|>')],
        post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', 49407], cls: ['<|startoftext|>', 49406], trim_offsets: false, add_prefix_space: false },
        model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, vocab, merges },
      };
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('gives the same ids for every prompt', () => {
      const fromJson = CLIPTokenizer.fromPretrained(dir);
      expect(fromJson.numMerges).toBe(48894);
      expect(fromJson.padTokenId).toBe(49407);
      const texts = cases.map((c) => c.text);
      expect(fromJson.call(texts, { padding: 'max_length', maxLength: 77, truncation: true }).inputIds).toEqual(cases.map((c) => c.input_ids));
      expect(texts.map((t) => fromJson.encode(t))).toEqual(cases.map((c) => c.ids_untruncated));
    });
  });
});
