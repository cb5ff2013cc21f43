/**
 * Which words Adversarial Preservation may preserve on the embedded world: for every class, the Gumbel search's
 * candidate set with the benchmark's settings (erasure-methods.ts: vocabulary = the world's whole-word tokens, erased
 * words excluded, K nearest by d_w = ‖E_w − E_c‖, reduced to 20 cluster representatives, seed 0), and which of them
 * are the class's own synonyms, the associated concepts the benchmark scores as "should be erased" (Acc_g).
 *
 *   pnpm --filter @erase/methods bench:ap-candidates [--out docs/ap-candidates.md]
 *
 * The candidates depend only on the text encoder and the seed (not on the number of iterations), so each class runs
 * `adversarialPreservation()` for one iteration and reads `statistics.gumbel.candidates`; the UNet is restored after
 * each run. Takes about a minute on 2 cores.
 */
import { resolve } from 'node:path';
import { writeFileAtomic } from '@erase/core';
import { SHAPE_CLASSES, loadShapesWorld, photoPrompt } from '@erase/shapes-world';
import { ParameterSnapshot, adversarialPreservation } from '../src/index';

const argv = process.argv.slice(2);
const outIndex = argv.indexOf('--out');
const outArg = outIndex >= 0 ? argv[outIndex + 1] : 'docs/ap-candidates.md';
if (!outArg || outArg.startsWith('--')) {
  console.error('bench:ap-candidates: --out needs a file path (e.g. --out docs/ap-candidates.md)');
  process.exit(2);
}
const out = resolve(process.env.INIT_CWD ?? process.cwd(), outArg);
const NUM_CENTERS = 20; // as the benchmark's AP row

const world = await loadShapesWorld({ backend: 'wasm', threads: 2 });
const original = new ParameterSnapshot(world.unet.parameters(), [...world.unet.parameters().keys()]);
const rows: string[] = [];
let withSynonyms = 0;
for (const cls of SHAPE_CLASSES) {
  const result = await adversarialPreservation(world, { concepts: [photoPrompt(cls.name)], search: 'gumbel', trainable: 'x', iterations: 1, learningRate: 1e-4, gumbel: { numCenters: NUM_CENTERS }, seed: 0 });
  original.restore();
  const candidates = result.statistics.gumbel?.candidates[0];
  result.dispose();
  if (!candidates) throw new Error(`no Gumbel candidates for ${cls.name}`);
  const own = candidates.words.filter((w) => cls.synonyms.includes(w));
  if (own.length > 0) withSynonyms++;
  const words = candidates.words.map((w) => (cls.synonyms.includes(w) ? `**${w}**` : w)).join(', ');
  rows.push(`| ${cls.name} | ${cls.synonyms.join(', ')} | ${own.length} | ${candidates.nearest} | ${words} |`);
  console.log(`${cls.name.padEnd(8)} own synonyms among the candidates: ${own.join(', ') || '–'}`);
}
original.dispose();
world.dispose();

const text = [
  '# Adversarial Preservation\'s candidate words on the embedded world',
  '',
  `Produced by \`pnpm --filter @erase/methods bench:ap-candidates\` (bench/ap-candidates.ts). For each class, the ${NUM_CENTERS} words the Gumbel-Softmax search chooses among (the benchmark's settings: the world's whole-word tokens, erased words excluded, the K nearest by ‖E_w − E_c‖ reduced to ${NUM_CENTERS} cluster representatives, nearest first, seed 0). **Bold**: the class's own synonyms — words the method may preserve while the benchmark counts them as associated concepts to erase (Acc_g, docs/results.md).`,
  '',
  `${withSynonyms} of ${SHAPE_CLASSES.length} classes have at least one own synonym among their candidates.`,
  '',
  '| class | its synonyms | own synonyms among the candidates | K | candidates |',
  '|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
writeFileAtomic(out, text);
console.log(`wrote ${out}`);
