// Tests of the world's CLIP vocabulary: the committed files are what the builder makes, the byte layout equals
// real CLIP's, and the project's CLIPTokenizer (transformers' slow CLIPTokenizer) reads every world word as one token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIPTokenizer, parseMergesTxt } from '../../../sd/src/tokenizer/index';
import { shapesWorldTokenizerDir } from '../assets';
import { generateShapes } from '../generator/generate';
import { BACKGROUNDS, CAPTION_TEMPLATES, FILL_COLORS, SHAPE_CLASSES, worldWords } from '../world/vocabulary';
import { fillTemplate } from '../world/captions';
import { applyMerges, buildWorldVocabulary, bytesToUnicode, trainMerges } from './world-vocab';

const dir = shapesWorldTokenizerDir();
const readJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;

describe('world vocabulary files', () => {
  it('the committed tokenizer folder is exactly what buildWorldVocabulary makes (run scripts/make-vocab.ts if not)', () => {
    const built = buildWorldVocabulary(worldWords(), { modelMaxLength: 16 });
    expect(readJson('vocab.json')).toEqual(built.vocab);
    expect(readFileSync(join(dir, 'merges.txt'), 'utf8')).toBe(built.mergesText);
    expect(readJson('tokenizer_config.json')).toEqual(built.tokenizerConfig);
    expect(readJson('special_tokens_map.json')).toEqual(built.specialTokensMap);
  });

  it("ids 0–511 equal real CLIP's byte symbols and </w> variants; the specials come last", () => {
    const vocab = readJson('vocab.json') as Record<string, number>;
    const clip = JSON.parse(readFileSync('/work/shared/fixtures/clip-bpe/vocab.json', 'utf8')) as Record<string, number>;
    const firstOf = (v: Record<string, number>): [string, number][] => Object.entries(v).filter(([, id]) => id < 512).sort((a, b) => a[1] - b[1]);
    expect(firstOf(vocab)).toEqual(firstOf(clip));
    const size = Object.keys(vocab).length;
    expect(vocab['<|startoftext|>']).toBe(size - 2);
    expect(vocab['<|endoftext|>']).toBe(size - 1);
    expect(new Set(Object.values(vocab)).size).toBe(size); // ids are distinct and dense
    expect(Math.max(...Object.values(vocab))).toBe(size - 1);
  });

  it('bytesToUnicode maps space to Ġ and byte 0 to Ā, as GPT-2/CLIP', () => {
    const table = new Map(bytesToUnicode().map(({ byte, char }) => [byte, char]));
    expect(table.size).toBe(256);
    expect(new Set(table.values()).size).toBe(256);
    expect(table.get(0x20)).toBe('Ġ');
    expect(table.get(0)).toBe('Ā');
    expect(table.get(0x61)).toBe('a');
  });

  it('trainMerges + applyMerges turn each word into one symbol and leave other words split', () => {
    const merges = trainMerges(['abc', 'abd', 'e']);
    expect(applyMerges('abc', merges)).toEqual(['abc</w>']);
    expect(applyMerges('abd', merges)).toEqual(['abd</w>']);
    expect(applyMerges('e', merges)).toEqual(['e</w>']);
    expect(merges[0]).toEqual(['a', 'b']); // the most frequent pair goes first
    expect(applyMerges('bad', merges).length).toBeGreaterThan(1);
    expect(() => trainMerges(['Abc'])).toThrow(/lower-case/);
  });
});

describe('CLIPTokenizer on the world vocabulary', () => {
  const tokenizer = CLIPTokenizer.fromPretrained(dir);

  it('loads with context length 16, pad = eos, and every merge line parsed', () => {
    expect(tokenizer.modelMaxLength).toBe(16);
    expect(tokenizer.padTokenId).toBe(tokenizer.eosTokenId);
    expect(tokenizer.bosToken).toBe('<|startoftext|>');
    expect(tokenizer.numMerges).toBe(parseMergesTxt(readFileSync(join(dir, 'merges.txt'), 'utf8')).length);
  });

  it('every world word is exactly one token, distinct per word', () => {
    const words = worldWords();
    const ids = new Set<number>();
    for (const word of words) {
      expect(tokenizer.tokenize(word), word).toEqual([`${word}</w>`]);
      const encoded = tokenizer.encode(word);
      expect(encoded.length, word).toBe(3);
      ids.add(encoded[1] as number);
    }
    expect(ids.size).toBe(words.length);
    expect(ids.has(tokenizer.eosTokenId)).toBe(false); // never the unk (= eos) token
  });

  it('every template × shape word × colour × background: one token per word, padded to 16 with eos', () => {
    const shapeWords = SHAPE_CLASSES.flatMap((c, label) => [c.name, ...c.synonyms].map((w) => [w, label] as const));
    for (let template = 0; template < CAPTION_TEMPLATES.length; template++) {
      for (const [word, label] of shapeWords) {
        for (let color = 0; color < FILL_COLORS.length; color++) {
          for (let background = 0; background < BACKGROUNDS.length; background++) {
            const caption = fillTemplate(template, word, { label, color, background });
            const words = caption.split(' ');
            const tokens = tokenizer.tokenize(caption);
            expect(tokens, caption).toEqual(words.map((w) => `${w}</w>`));
          }
        }
      }
    }
    const batch = tokenizer.call(['a photo of a pink crescent on a beige background', ''], { padding: 'max_length', truncation: true });
    expect(batch.inputIds[0]!.length).toBe(16);
    expect(batch.lengths).toEqual([12, 2]); // 10 words + <bos> + <eos>; <bos> + <eos>
    expect(batch.inputIds[1]).toEqual([tokenizer.bosTokenId, ...new Array<number>(15).fill(tokenizer.eosTokenId)]);
  });

  it('generated captions tokenize to (words + 2) tokens; unknown words still tokenize (as characters)', () => {
    for (const caption of generateShapes({ count: 300, seed: 5 }).captions) {
      expect(tokenizer.encode(caption).length, caption).toBe(caption.split(' ').length + 2);
    }
    const zebra = tokenizer.tokenize('zebra');
    expect(zebra.length).toBeGreaterThan(1);
    expect(tokenizer.convertTokensToIds(zebra)).not.toContain(tokenizer.unkTokenId);
  });
});
