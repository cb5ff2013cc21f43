/**
 * Measures the embedded world (`pnpm eval:shapes`): generation quality (oracle top-1 per class and synonym, priors of
 * "a photo of the" and ""), a PNG grid, generation speed, text geometry, and concept residue under a word-level UCE
 * erasure of each class. Writes `README.md` (the report), `grid.png` and `evaluation.json` (every number) to the
 * output folder, each atomically.
 *
 *   npx tsx scripts/eval-world.ts [--seeds 50] [--first-seed 0] [--dir <weights>] [--out <folder>] [--quick]
 *                                 [--threads N] [--backend wasm|cpu] [--batch-size 32] [--classes circle,ring,…]
 *                                 [--other-seeds N]
 *
 * --seeds      images per prompt (every prompt uses seeds first-seed … first-seed + seeds − 1)
 * --dir        the trained weights folder (default: the package's weights/)
 * --out        output folder (default: docs/shapes-world/ at the repository root; with --quick: a temp folder)
 * --quick      smoke run: 2 seeds, residue on circle and moon only (unless --seeds / --classes say otherwise)
 * --threads    wasm threads (default 1: on this shared 2-core machine, 2 XNNPACK threads ran the world's UNet 3–5×
 *              slower than 1 whenever another job held a core)
 * --classes    classes erased in the residue part (default: all 10)
 * --other-seeds  seeds of each other class's prompt for Acc_s (the first N of the seeds; default: all)
 * Images: 42 · seeds + classes · (4 · seeds + 9 · other-seeds); at 50 seeds and 10 classes, 8,600.
 */
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@erase/core';
import { scoreErasedClass } from '@erase/eval';
import { useBackend } from '@erase/sd';
import {
  evaluateWorld,
  evaluationToJson,
  evaluationToMarkdown,
  gridPng,
  seedRange,
  type RunEnvironment,
} from '../src/evaluation/index';
import { CLASS_NAMES, loadShapesWorld, shapesWorldWeightsDir } from '../src/index';

const USAGE =
  'usage: tsx scripts/eval-world.ts [--seeds 50] [--first-seed 0] [--dir <weights>] [--out <folder>] [--quick] [--threads N] ' +
  '[--backend wasm|cpu] [--batch-size 32] [--classes circle,ring,…] [--other-seeds N]';
const VALUE_FLAGS = new Set(['seeds', 'first-seed', 'dir', 'out', 'threads', 'backend', 'batch-size', 'classes', 'other-seeds']);
const BOOLEAN_FLAGS = new Set(['quick', 'help']);

function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue;
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    if (BOOLEAN_FLAGS.has(name)) {
      args.set(name, 'true');
    } else if (VALUE_FLAGS.has(name)) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) fail(`--${name} needs a value`);
      args.set(name, value as string);
      i++;
    } else {
      fail(`unknown argument ${arg}`);
    }
  }
  return args;
}

function fail(message: string): never {
  console.error(`eval-world: ${message}\n${USAGE}`);
  process.exit(2);
}

function integer(args: Map<string, string>, name: string, fallback: number, min: number): number {
  const text = args.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) fail(`--${name} must be an integer ≥ ${min}, got ${text}`);
  return value;
}

const args = parseArgs(process.argv.slice(2));
if (args.has('help')) {
  console.log(USAGE);
  process.exit(0);
}
const quick = args.has('quick');
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const seeds = seedRange(integer(args, 'seeds', quick ? 2 : 50, 1), integer(args, 'first-seed', 0, 0));
const dir = resolve(args.get('dir') ?? shapesWorldWeightsDir());
const out = resolve(args.get('out') ?? (quick ? join(tmpdir(), 'shapes-world-eval-quick') : join(repoRoot, 'docs', 'shapes-world')));
const backend = args.get('backend') ?? 'wasm';
if (backend !== 'wasm' && backend !== 'cpu') fail(`--backend must be wasm or cpu, got ${backend}`);
const threads = integer(args, 'threads', 1, 1);
const batchSize = integer(args, 'batch-size', 32, 1);
const erase = args.get('classes')?.split(',').map((s) => s.trim()).filter((s) => s.length > 0) ?? (quick ? ['circle', 'moon'] : [...CLASS_NAMES]);
for (const name of erase) if (!CLASS_NAMES.includes(name)) fail(`--classes: unknown class "${name}" (classes: ${CLASS_NAMES.join(', ')})`);
const otherSeeds = seeds.slice(0, integer(args, 'other-seeds', seeds.length, 1));

const load = loadavg()[0] ?? 0;
const info = await useBackend(backend, backend === 'wasm' ? { threads } : {});
console.log(`eval-world: tfjs ${info.tfjsName}, ${info.threads ?? '?'} thread(s); weights ${dir}; output ${out}`);
const world = await loadShapesWorld({ dir });
const oracle = world.oracle;
if (oracle === undefined) fail(`no oracle loaded from ${join(dir, 'oracle')}`);

const totalImages = 42 * seeds.length + erase.length * (4 * seeds.length + 9 * otherSeeds.length);
console.log(
  `eval-world: ${seeds.length} seeds (${seeds[0]}–${seeds[seeds.length - 1]}), residue on ${erase.length} class(es)` +
    `${otherSeeds.length < seeds.length ? ` (Acc_s from ${otherSeeds.length} seeds)` : ''}: ${totalImages} images`,
);
const started = performance.now();
let doneBefore = 0; // images finished in earlier stages/classes
let lastKey = '';
let lastStep = 0;
const evaluation = await evaluateWorld(world, oracle, {
  seeds,
  otherSeeds,
  score: scoreErasedClass,
  erase,
  batchSize,
  onProgress: (event) => {
    const key = `${event.stage} ${event.message ?? ''}`;
    if (key !== lastKey) {
      doneBefore += lastStep;
      lastKey = key;
    }
    lastStep = event.step;
    const done = doneBefore + event.step;
    const seconds = (performance.now() - started) / 1000;
    const eta = (seconds / done) * (totalImages - done);
    const label = event.stage.replace('evaluate.', '') + (event.message ? ` ${event.message}` : '');
    console.log(`[${label}] ${event.step}/${event.total} · all ${done}/${totalImages} · ${seconds.toFixed(0)} s · ${((1000 * seconds) / done).toFixed(0)} ms/image · ETA ${(eta / 60).toFixed(1)} min`);
  },
});
console.log(
  `eval-world: quality class top-1 ${evaluation.quality.classTop1.toFixed(1)}%, synonyms ${evaluation.quality.synonymTop1.toFixed(1)}%; ` +
    `residue mean Acc_e/Acc_s/Acc_g/H_o ${Object.values(evaluation.residue.means.meanProbability).map((x) => x.toFixed(1)).join(' / ')}; ` +
    `${evaluation.speed.msPerImage.toFixed(0)} ms per image; ${(evaluation.timings.totalMs / 1000).toFixed(0)} s in all`,
);

const environment: RunEnvironment = {
  command: ['tsx scripts/eval-world.ts', ...process.argv.slice(2).filter((arg) => arg !== '--')].join(' '),
  date: new Date().toISOString(),
  weightsDir: relative(repoRoot, dir) || dir,
  backend: info.tfjsName,
  threads: info.threads,
  machine: `Node ${process.version}, ${process.platform} ${process.arch}, ${availableParallelism()} cores (load average ${load.toFixed(1)} at start)`,
  gridFile: 'grid.png',
};
const grid = evaluation.quality.grid;
writeFileAtomic(join(out, 'grid.png'), await gridPng(grid.images, grid.imageShape, grid.seeds.length), { createFolder: true });
writeFileAtomic(join(out, 'evaluation.json'), evaluationToJson(evaluation, environment));
writeFileAtomic(join(out, 'README.md'), evaluationToMarkdown(evaluation, environment));
world.dispose();
console.log(`eval-world: wrote ${join(out, 'README.md')}, grid.png, evaluation.json`);
