/**
 * Writes the ShapesWorld tokenizer folder (`tokenizer/`): vocab.json, merges.txt, tokenizer_config.json and
 * special_tokens_map.json in transformers' CLIPTokenizer format, every world word one token, context length 16.
 *
 *   npx tsx scripts/make-vocab.ts [--out <dir>]
 *
 * Deterministic: running it again writes identical files. Files are written atomically (temp file + rename).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWorldVocabulary } from '../src/tokenizer/world-vocab';
import { worldWords } from '../src/world/vocabulary';

/** Context length T of the world (every caption is ≤ 9 tokens with `<bos>`/`<eos>`). */
const CONTEXT_LENGTH = 16;

function writeAtomic(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, 'utf8');
  renameSync(temp, path);
}

const here = dirname(fileURLToPath(import.meta.url));
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex > 0 && process.argv[outIndex + 1] ? resolve(process.argv[outIndex + 1] as string) : join(here, '..', 'tokenizer');

const words = worldWords();
const built = buildWorldVocabulary(words, { modelMaxLength: CONTEXT_LENGTH });
mkdirSync(outDir, { recursive: true });
writeAtomic(join(outDir, 'vocab.json'), `${JSON.stringify(built.vocab, null, 2)}\n`);
writeAtomic(join(outDir, 'merges.txt'), built.mergesText);
writeAtomic(join(outDir, 'tokenizer_config.json'), `${JSON.stringify(built.tokenizerConfig, null, 2)}\n`);
writeAtomic(join(outDir, 'special_tokens_map.json'), `${JSON.stringify(built.specialTokensMap, null, 2)}\n`);
console.log(
  `make-vocab: ${words.length} words, ${built.merges.length} merges, ${Object.keys(built.vocab).length} tokens → ${outDir}`,
);
