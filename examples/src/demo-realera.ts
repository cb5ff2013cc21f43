/**
 * The main job: erase one class from the embedded ShapesWorld with RealEra and show what changed.
 *
 *   pnpm demo [--concept moon] [--seeds 8] [--threads 2] [--out out/]      (from the repository root)
 *
 * 1. Loads the shipped world (`@erase/shapes-world`: CLIP text encoder + UNet trained by `pnpm train:shapes`) — the
 *    same `DiffusionModel` type a real SD checkpoint gives — and its oracle classifier.
 * 2. Measures the original model: images from "a photo of the {class}" for the erased class (Acc_e), its three
 *    synonyms (Acc_g: the associated concepts the erasure must also reach) and the nine other classes (Acc_s),
 *    scored with `@erase/eval` (MACE's mean-probability protocol) → H_o.
 * 3. Runs `realEra()` (`@erase/methods`): neighbour mining → closed form on every attn2 to_k/to_v → LoRA
 *    prediction-noise alignment. The synonyms are never shown to it.
 * 4. Measures again, prints both rows, and writes a before/after PNG grid.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { realEra } from '@erase/methods';
import { InvalidOptionError, writeFileAtomic } from '@erase/core';
import { harmonicMeanHo, scoreErasedClass, type ClassifiedImage } from '@erase/eval';
import {
  SHAPE_CLASSES,
  gridPng,
  loadShapesWorld,
  photoPrompt,
  sampleAndClassify,
  seedRange,
  type SampleRequest,
} from '@erase/shapes-world';

/** Bad flags exit 2 with the typed error's message (no stack trace), before anything is loaded or written. */
function refuse(error: InvalidOptionError): never {
  console.error(`demo: ${error.message}`);
  process.exit(2);
}

/** `--name value` pairs; an unknown flag, a flag without a value, or a stray value is refused. */
const FLAGS = ['concept', 'seeds', 'threads', 'out'] as const;
const given = new Map<string, string>();
const args = process.argv.slice(2).filter((a) => a !== '--'); // `pnpm demo -- --seeds 8` passes the separator on
for (let i = 0; i < args.length; i += 2) {
  const flag = args[i] as string;
  const name = flag.startsWith('--') ? flag.slice(2) : '';
  if (!(FLAGS as readonly string[]).includes(name)) {
    refuse(new InvalidOptionError({ option: flag, expected: `one of ${FLAGS.map((f) => `--${f}`).join(', ')}, each followed by its value`, received: flag }));
  }
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) refuse(new InvalidOptionError({ option: flag, expected: 'a value after it', received: value }));
  given.set(name, value);
}
const option = (name: (typeof FLAGS)[number], fallback: string): string => given.get(name) ?? fallback;
const positiveInt = (name: 'seeds' | 'threads', fallback: number): number => {
  const text = option(name, String(fallback));
  if (!/^[1-9][0-9]*$/.test(text)) refuse(new InvalidOptionError({ option: `--${name}`, expected: 'a positive integer', received: text }));
  return Number(text);
};

const concept = option('concept', 'moon');
const seeds = positiveInt('seeds', 8); // 8 fill the grid's columns; 16 take ≈ 45 s more (the 5-minute budget)
const outDir = resolve(process.env.INIT_CWD ?? process.cwd(), option('out', 'out'));
const threads = positiveInt('threads', 2);
const erased = SHAPE_CLASSES.find((c) => c.name === concept);
if (!erased) refuse(new InvalidOptionError({ option: '--concept', expected: `one of ${SHAPE_CLASSES.map((c) => c.name).join(', ')}`, received: concept }));

const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const world = await loadShapesWorld({ backend: 'wasm', threads });
const oracle = world.oracle!;
const classNames = SHAPE_CLASSES.map((c) => c.name);

/** The evaluation prompts: [prompt, intended class, role]. */
const prompts: [string, string, ClassifiedImage['role']][] = [
  [photoPrompt(erased.name), erased.name, 'erased'],
  ...erased.synonyms.map((s): [string, string, ClassifiedImage['role']] => [photoPrompt(s), erased.name, 'synonym']),
  ...SHAPE_CLASSES.filter((c) => c !== erased).map((c): [string, string, ClassifiedImage['role']] => [photoPrompt(c.name), c.name, 'other']),
];
const requests: SampleRequest[] = prompts.flatMap(([prompt]) => seedRange(seeds).map((seed) => ({ prompt, seed })));
const gridRows = 4; // the class prompt and its three synonyms
const keep = (index: number): boolean => index < gridRows * seeds && index % seeds < 8;

async function measure(label: string) {
  const result = await sampleAndClassify(world, oracle, requests, { keepImages: keep });
  const images: ClassifiedImage[] = result.probabilities.map((probabilities, i) => {
    const [, intendedClass, role] = prompts[Math.floor(i / seeds)] as [string, string, ClassifiedImage['role']];
    return { probabilities, intendedClass, role };
  });
  const scores = scoreErasedClass(images, { classNames, erasedClass: erased!.name });
  console.log(`${label}: ${requests.length} images in ${(result.samplingMs / 1000).toFixed(1)} s  (${elapsed()})`);
  return { scores, result };
}

const before = await measure('original model');
const erasure = await realEra(world, {
  concepts: [photoPrompt(erased.name)],
  anchorConcepts: [' '],
  preserveConcepts: SHAPE_CLASSES.filter((c) => c !== erased).map((c) => photoPrompt(c.name)),
  // The settings of the row "RealEra: closed form + noise alignment with mined samples (as drawn)" in docs/results.md:
  // closed form without mined samples, neighbours and beyond samples drawn fresh (not rescaled) in the LoRA stage.
  // realEra()'s defaults (mined samples rescaled to ‖e‖, also in the closed form) leave less of the concept in its
  // synonyms on this world but cost ≈ 23 points of Acc_s ("RealEra (full, rescaled)").
  sampler: { rescale: 'none' },
  closedForm: { lambda: 0.1, useMinedSamples: false },
  lora: { steps: 300, learningRate: 1e-3, batchSize: 16, anchorImages: 64, generationSteps: 20 },
  seed: 0,
  onProgress: (e) => {
    if (e.step === e.total || e.step % 50 === 0) console.log(`  ${e.stage} ${e.step}/${e.total}${e.metrics?.loss !== undefined ? `  loss ${e.metrics.loss.toFixed(4)}` : ''}  (${elapsed()})`);
  },
});
const after = await measure('after RealEra');

const row = (name: string, s: typeof before.scores): string =>
  `| ${name} | ${s.accE.toFixed(2)} | ${s.accS.toFixed(2)} | ${s.accG.toFixed(2)} | ${harmonicMeanHo(s.accE, s.accS, s.accG).toFixed(2)} |`;
console.log(`\nErasing "${erased.name}" (synonyms ${erased.synonyms.join(', ')}) from the embedded ShapesWorld, ${seeds} seeds per prompt:\n`);
console.log('| model | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ |');
console.log('|---|---|---|---|---|');
console.log(row('original', before.scores));
console.log(row('RealEra', after.scores));

// Before/after grid: rows = the class prompt and its synonyms, before (left 8 columns) and after (right 8).
const [h, w, c] = before.result.imageShape;
const columns = 16;
const cells = new Float32Array(gridRows * columns * h * w * c).fill(1);
for (let r = 0; r < gridRows; r++) {
  for (let s = 0; s < Math.min(8, seeds); s++) {
    for (const [side, source] of [[0, before.result], [8, after.result]] as const) {
      const image = source.images.get(r * seeds + s);
      if (image) cells.set(image, (r * columns + side + s) * h * w * c);
    }
  }
}
mkdirSync(outDir, { recursive: true });
const gridPath = join(outDir, `realera-${erased.name}.png`);
const png = await gridPng(cells, [h, w, c], columns, { factor: 4 });
writeFileAtomic(gridPath, png);
console.log(`\nwrote ${gridPath} (rows: ${[erased.name, ...erased.synonyms].join(', ')}; left: original, right: after RealEra)`);
console.log(`total ${elapsed()}`);
erasure.dispose();
world.dispose();
