/**
 * The erasure benchmark on the embedded ShapesWorld (issue #5): for every class and method, erase the class prompt
 * "a photo of the {class}", generate from the class prompt (Acc_e), its three synonyms (Acc_g: the associated
 * concepts no method is shown) and the nine other classes (Acc_s), score the oracle's probabilities with
 * @erase/eval's `scoreErasedClass` (MACE's mean-probability protocol; top-1 alongside), and restore the model.
 *
 *   pnpm bench:erasure [--classes all|circle,moon] [--methods all|uce-2023,realera] [--seeds 50] [--other-seeds 50]
 *                      [--threads 2] [--sweep moon|none] [--out docs/results.md] [--resume]
 *
 * Notation (percent): Acc_e ↓, Acc_s ↑, Acc_g ↓, H_o = 3 / (1/(100 − Acc_e) + 1/Acc_s + 1/(100 − Acc_g)) ↑; means
 * over classes are plain means (H_o: the mean of per-class H_o). Seeds: request (prompt, s) starts from the same
 * z_T under every method (paired comparison). Every method gets the same prompts: the class prompt to erase, the
 * anchor " ", the other nine class prompts to preserve.
 * Writes `--out` (markdown) and the same figures as JSON beside it, atomically, after every (method, class) (a
 * partial run leaves a valid, partial table). `--resume` reads that JSON first and skips every (method, class) and
 * sweep point it already holds, and merges the file's rows into each write (under a lock file), so the full table can
 * be built by several runs — one after another, or side by side (one process per core, same flags): with `--resume`
 * a run claims each row and sweep point before measuring it (claims.ts), and skips what a live run beside it has
 * claimed, so side-by-side runs share the work as it comes. It refuses a file made with other seeds or from other world weights (SHA-256 of the weight files),
 * or sampled at another guidance scale, so rows measured on different models never share a table (results-file.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '@erase/core';
import { harmonicMeanHo, scoreErasedClass, type ClassifiedImage } from '@erase/eval';
import { SHAPE_CLASSES, loadShapesWorld, photoPrompt, sampleAndClassify, seedRange } from '@erase/shapes-world';
import { ParameterSnapshot, baseFingerprint } from '../src/index';
import { ownClaim, releaseClaim, tryClaim } from './claims';
import { BENCH_METHODS, SWEEP, anchors, type BenchMethod, type MethodRun } from './erasure-methods';
import { mergeResults, readResultsFile, sweepPointKey, withFileLock, type ClassRow, type Figures, type MethodRows, type ResultsFile } from './results-file';

const argv = process.argv.slice(2);
function flag(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
}
function positiveInt(name: string, fallback: number): number {
  const raw = flag(name, String(fallback));
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`bench:erasure: --${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}
function list(name: string, all: readonly string[]): string[] {
  const raw = flag(name, 'all');
  if (raw === 'all') return [...all];
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((s) => !all.includes(s));
  if (unknown.length > 0 || items.length === 0) {
    console.error(`bench:erasure: --${name} takes "all" or a comma-separated subset of ${all.join(', ')}; unknown: ${unknown.join(', ') || '(empty)'}`);
    process.exit(2);
  }
  return items;
}

const classNames = SHAPE_CLASSES.map((c) => c.name);
const classes = list('classes', classNames);
const methods = list('methods', BENCH_METHODS.map((m) => m.id));
const seeds = seedRange(positiveInt('seeds', 50));
const otherSeeds = seedRange(positiveInt('other-seeds', 50));
const threads = positiveInt('threads', 2);
const sweepClass = flag('sweep', 'moon');
if (sweepClass !== 'none' && !classNames.includes(sweepClass)) {
  console.error(`bench:erasure: --sweep takes a class (${classNames.join(', ')}) or "none", got "${sweepClass}"`);
  process.exit(2);
}
const outPath = resolve(process.env.INIT_CWD ?? process.cwd(), flag('out', 'docs/results.md'));
const jsonPath = outPath.replace(/\.md$/, '') + '.json';
const resume = argv.includes('--resume');
const command = `pnpm bench:erasure ${argv.join(' ')}`.trim();

/** The commit of the code measuring (with `-dirty` when package or example sources differ from it); undefined outside git. */
function codeCommit(): string | undefined {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: process.env.INIT_CWD ?? process.cwd(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const root = git('rev-parse', '--show-toplevel');
    const head = git('-C', root, 'rev-parse', '--short=10', 'HEAD');
    const dirty = git('-C', root, 'status', '--porcelain', '--', 'packages', 'examples') !== '';
    return `${head}${dirty ? '-dirty' : ''}`;
  } catch {
    return undefined;
  }
}
const commit = codeCommit();

const world = await loadShapesWorld({ backend: 'wasm', threads });
const oracle = world.oracle;
if (!oracle) throw new Error('the embedded world has no oracle');
const weightsSha256 = baseFingerprint(world).sha256;

const comparable = { weightsSha256, guidanceScale: world.defaultGuidanceScale, seeds: seeds.length, otherSeeds: otherSeeds.length };
const methodOrder = BENCH_METHODS.map((m) => m.id);
const sweepOrder = SWEEP.map(sweepPointKey);

/** The results file when `--resume` was given (undefined when absent); exits 2 naming the mismatch when it cannot be merged. */
function readForResume(): ResultsFile | undefined {
  if (!resume) return undefined;
  const file = readResultsFile(jsonPath, comparable);
  if (file && 'problem' in file) {
    console.error(`bench:erasure: --resume refuses ${file.problem}. Move it away or run with the same settings.`);
    process.exit(2);
  }
  return file;
}

/** Every UNet parameter's original value (the methods change some in place); restored after each run. */
const original = new ParameterSnapshot(world.unet.parameters(), [...world.unet.parameters().keys()]);

/** Generates and scores the class's evaluation prompts under the current weights. */
async function evaluate(erased: string): Promise<{ meanProbability: Figures; top1: Figures; seconds: number }> {
  const cls = SHAPE_CLASSES.find((c) => c.name === erased) as (typeof SHAPE_CLASSES)[number];
  const prompts: { prompt: string; intendedClass: string; role: ClassifiedImage['role']; seeds: number[] }[] = [
    { prompt: photoPrompt(cls.name), intendedClass: cls.name, role: 'erased', seeds },
    ...cls.synonyms.map((s) => ({ prompt: photoPrompt(s), intendedClass: cls.name, role: 'synonym' as const, seeds })),
    ...SHAPE_CLASSES.filter((c) => c !== cls).map((c) => ({ prompt: photoPrompt(c.name), intendedClass: c.name, role: 'other' as const, seeds: otherSeeds })),
  ];
  const requests = prompts.flatMap((p) => p.seeds.map((seed) => ({ prompt: p.prompt, seed })));
  const started = performance.now();
  const result = await sampleAndClassify(world, oracle as NonNullable<typeof oracle>, requests, {});
  const images: ClassifiedImage[] = [];
  let n = 0;
  for (const p of prompts) for (let s = 0; s < p.seeds.length; s++) images.push({ probabilities: result.probabilities[n++] as Float32Array, intendedClass: p.intendedClass, role: p.role });
  const figures = (variant: 'meanProbability' | 'top1'): Figures => {
    const s = scoreErasedClass(images, { classNames, erasedClass: erased, variant });
    return { accE: s.accE, accS: s.accS, accG: s.accG, ho: harmonicMeanHo(s.accE, s.accS, s.accG) };
  };
  return { meanProbability: figures('meanProbability'), top1: figures('top1'), seconds: (performance.now() - started) / 1000 };
}

/** Runs one method on one class, evaluates, restores. */
async function runOne(method: BenchMethod, erased: string, overrides?: Record<string, unknown>): Promise<ClassRow> {
  const started = performance.now();
  let run: MethodRun | undefined;
  try {
    run = await method.run(world, erased, classNames.filter((c) => c !== erased), overrides);
    const methodSeconds = (performance.now() - started) / 1000;
    const figures = await evaluate(erased);
    return { erasedClass: erased, meanProbability: figures.meanProbability, top1: figures.top1, methodSeconds, evalSeconds: figures.seconds, ...(commit ? { commit } : {}) };
  } finally {
    run?.cleanup();
    original.restore();
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const meanFigures = (rows: Figures[]): Figures => ({ accE: mean(rows.map((r) => r.accE)), accS: mean(rows.map((r) => r.accS)), accG: mean(rows.map((r) => r.accG)), ho: mean(rows.map((r) => r.ho)) });
const f = (x: number): string => x.toFixed(2);

/** A stored command in backticks, its thread-count note outside them. */
function quoteCommand(stored: string): string {
  const note = / \((\d+ wasm thread\(s\))\)$/.exec(stored);
  return note ? `\`${stored.slice(0, note.index)}\` (${note[1]})` : `\`${stored}\``;
}

function markdown({ commands, results, sweep }: ResultsFile): string {
  const lines: string[] = [];
  // the columns: every class some method has a row for (a resumed table may hold more than this run's --classes)
  const shownClasses = classNames.filter((c) => results.some((m) => m.rows.some((r) => r.erasedClass === c)));
  const shownMethods = BENCH_METHODS.filter((m) => results.some((r) => r.id === m.id && r.rows.length > 0)).map((m) => m.id);
  lines.push('# Erasure benchmark on the embedded ShapesWorld', '');
  lines.push(`Produced on ${new Date().toISOString().slice(0, 10)} by ${commands.map(quoteCommand).join(', then ')} (${seeds.length} seeds for the erased class and each synonym prompt, ${otherSeeds.length} for each other class; world weights sha256 ${weightsSha256.slice(0, 16)}…, guidance ${world.defaultGuidanceScale}).`);
  const commits = new Map<string, number>();
  for (const row of [...results.flatMap((m) => m.rows), ...sweep]) commits.set(row.commit ?? 'not recorded', (commits.get(row.commit ?? 'not recorded') ?? 0) + 1);
  lines.push('', `Code that measured the rows (git commit: rows and sweep points): ${[...commits].map(([c, n]) => `${c}: ${n}`).join(', ')}.`);
  if (!isComplete(results)) {
    lines.push('', `**Subset**: ${shownClasses.length} of ${classNames.length} classes (${shownClasses.join(', ')}), ${shownMethods.length} of ${BENCH_METHODS.length} methods (${shownMethods.join(', ')}); a method's means are over the classes it has rows for. The full table is \`pnpm bench:erasure\` with no \`--classes\`/\`--methods\` (every method × every class; hours on 2 cores), or several runs with \`--resume\`.`);
  }
  lines.push('', 'Acc_e: the erased class prompt is still drawn (↓). Acc_s: the other nine classes are still drawn (↑). Acc_g: the class drawn from its synonyms, which no method sees (↓). H_o: harmonic mean of 100 − Acc_e, Acc_s, 100 − Acc_g (↑). Scores: mean oracle probability of the intended class (MACE), percent; a method\'s Acc columns are means over the classes run, and its H_o is the mean of the per-class H_o (not the H_o of the mean Acc values). Method seconds: the erasure itself (one class), measured while the runs listed above shared the machine (their wasm thread counts are given), so they show the order of magnitude, not a ranking; the shared anchor images are generated once per run, before its loop, and not counted. UCE 2023 and "RealEra: closed form only" are the same computation here (same token selection, λ 0.1, preserve weight max(0.1, 1/10) = 0.1 for the ten preserved prompts, " " and the nine other classes, = RealEra\'s), so their rows agree to the digit. The UCE rows use the official token selection and scales with the ridge λ 0.1 (the RealEra rows\' closed-form λ), not the official scripts\' default 0.5.', '');
  lines.push('| method | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ | top-1 H_o | classes | method s / class | settings |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const m of results) {
    if (m.rows.length === 0) continue;
    const mp = meanFigures(m.rows.map((r) => r.meanProbability));
    const t1 = meanFigures(m.rows.map((r) => r.top1));
    lines.push(`| ${m.label} | ${f(mp.accE)} | ${f(mp.accS)} | ${f(mp.accG)} | ${f(mp.ho)} | ${f(t1.ho)} | ${m.rows.length} | ${mean(m.rows.map((r) => r.methodSeconds)).toFixed(1)} | ${m.settings} |`);
  }
  lines.push('', '## H_o per class (mean probability)', '');
  lines.push(`| method | ${shownClasses.join(' | ')} |`);
  lines.push(`|---|${shownClasses.map(() => '---').join('|')}|`);
  for (const m of results) {
    const byClass = new Map(m.rows.map((r) => [r.erasedClass, r]));
    lines.push(`| ${m.label} | ${shownClasses.map((c) => (byClass.has(c) ? f((byClass.get(c) as ClassRow).meanProbability.ho) : '–')).join(' | ')} |`);
  }
  lines.push('', '## Acc_e / Acc_g per class (mean probability)', '');
  lines.push(`| method | ${shownClasses.join(' | ')} |`);
  lines.push(`|---|${shownClasses.map(() => '---').join('|')}|`);
  for (const m of results) {
    const byClass = new Map(m.rows.map((r) => [r.erasedClass, r]));
    lines.push(`| ${m.label} | ${shownClasses.map((c) => { const r = byClass.get(c); return r ? `${r.meanProbability.accE.toFixed(0)} / ${r.meanProbability.accG.toFixed(0)}` : '–'; }).join(' | ')} |`);
  }
  if (sweep.length > 0) {
    lines.push('', `## RealEra sweep on "${[...new Set(sweep.map((r) => r.erasedClass))].join('", "')}" (the paper's Fig. 5: D = neighbour radius D1 in units of ‖e‖, S = cosine band, M = neighbours, N = beyond samples; one parameter at a time from the defaults; plus the flattened perturbation mode of methods.md §2)`, '');
    lines.push('D, S and the perturbation mode are swept on "RealEra (full, rescaled)", M and N on the closed form with rescaled mined samples. With every mined sample rescaled to ‖e‖, D changes how the accepted cosines spread within the band, not the samples\' norms.', '');
    lines.push('| parameter | value | swept on | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ | method s |');
    lines.push('|---|---|---|---|---|---|---|---|');
    const sweptOn = (r: (typeof sweep)[number]): string => {
      const id = SWEEP.find((p) => p.parameter === r.parameter && p.value === r.value)?.method;
      return BENCH_METHODS.find((m) => m.id === id)?.label ?? '?';
    };
    for (const r of sweep) lines.push(`| ${r.parameter} | ${r.value} | ${sweptOn(r)} | ${f(r.meanProbability.accE)} | ${f(r.meanProbability.accS)} | ${f(r.meanProbability.accG)} | ${f(r.meanProbability.ho)} | ${r.methodSeconds.toFixed(1)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

const isComplete = (results: readonly MethodRows[]): boolean =>
  BENCH_METHODS.every((m) => classNames.every((c) => results.some((r) => r.id === m.id && r.rows.some((row) => row.erasedClass === c))));

/** This run's rows (with `--resume`: merged with the file's, re-read under the lock at every write). */
let own: ResultsFile = {
  commands: [], // this run's command joins once it has measured something (see `measured`)
  ...comparable,
  complete: false,
  results: BENCH_METHODS.filter((m) => methods.includes(m.id)).map((m) => ({ id: m.id, label: m.label, settings: m.settings, rows: [] })),
  sweep: [],
};

/** Records this run's command in the results (once), after its first measured row or sweep point. */
function measured(): void {
  const stored = `${command} (${threads} wasm thread(s))`;
  if (!own.commands.includes(stored)) own = { ...own, commands: [...own.commands, stored] };
}

/** `own` with the rows of `file` it lacks; exits 2 when a method's settings differ between them. */
function mergeOrExit(file: ResultsFile): ResultsFile {
  const merged = mergeResults(own, file, methodOrder, sweepOrder);
  if ('problem' in merged) {
    console.error(`bench:erasure: --resume cannot merge ${jsonPath}: ${merged.problem}`);
    process.exit(2);
  }
  return merged;
}

/** Merges `own` with the results file (`--resume`) and writes both files atomically. */
function write(): void {
  mkdirSync(dirname(outPath), { recursive: true });
  withFileLock(jsonPath, () => {
    const current = readForResume();
    if (current) own = mergeOrExit(current);
    own = { ...own, complete: isComplete(own.results) };
    writeFileAtomic(outPath, markdown(own));
    writeFileAtomic(jsonPath, `${JSON.stringify(own, null, 2)}\n`);
  });
}

const previous = readForResume();
if (previous) {
  own = mergeOrExit(previous);
  console.log(`bench:erasure: resuming ${jsonPath}: ${previous.results.reduce((a, m) => a + m.rows.length, 0)} rows and ${previous.sweep.length} sweep points kept`);
}
const claimsPath = `${jsonPath.replace(/\.json$/, '')}.claims.json`;
/**
 * Whether this run should measure `key` now: not `done()` (after merging the file's rows, with `--resume`) and, with
 * `--resume`, not claimed by a live run beside this one — then it is claimed for this run (`ownClaim()`: this process,
 * stamped with the time of the claim).
 */
function claim(key: string, done: () => boolean): boolean {
  if (!resume) return !done();
  return withFileLock(jsonPath, () => {
    const current = readForResume();
    if (current) own = mergeOrExit(current);
    return !done() && tryClaim(claimsPath, key, ownClaim());
  });
}
function release(key: string): void {
  if (resume) withFileLock(jsonPath, () => releaseClaim(claimsPath, key, ownClaim()));
}

const benchStarted = performance.now();
mkdirSync(dirname(outPath), { recursive: true }); // the lock and claims files live beside --out
// The shared anchor latents (Concept Ablation, RealEra's LoRA stage, the sweep) are made before the loop, untimed.
const ANCHOR_USERS = new Set(['ca', 'realera-cf-lora', 'realera', 'realera-no-beyond', 'realera-norm']);
if (methods.some((id) => ANCHOR_USERS.has(id)) || sweepClass !== 'none') {
  const started = performance.now();
  await anchors(world);
  console.log(`bench:erasure: shared anchor latents generated in ${((performance.now() - started) / 1000).toFixed(1)} s (not counted in any row)`);
}
const has = (id: string, erased: string): boolean => own.results.some((m) => m.id === id && m.rows.some((r) => r.erasedClass === erased));
for (const id of methods) {
  const method = BENCH_METHODS.find((m) => m.id === id) as BenchMethod;
  for (const erased of classes) {
    const key = `${id}/${erased}`;
    // measured before (--resume), meanwhile by a run beside this one, or being measured by it now
    if (!claim(key, () => has(id, erased))) continue;
    try {
      const row = await runOne(method, erased);
      if (has(id, erased)) continue;
      (own.results.find((m) => m.id === id) as MethodRows).rows.push(row);
      measured();
      const mp = row.meanProbability;
      console.log(`${method.label.padEnd(28)} ${erased.padEnd(8)} Acc_e ${f(mp.accE)}  Acc_s ${f(mp.accS)}  Acc_g ${f(mp.accG)}  H_o ${f(mp.ho)}  (method ${row.methodSeconds.toFixed(1)} s, eval ${row.evalSeconds.toFixed(1)} s)`);
      write();
    } finally {
      release(key);
    }
  }
}
if (sweepClass !== 'none') {
  for (const point of SWEEP) {
    const key = `sweep/${sweepClass}/${sweepPointKey(point)}`;
    const done = (): boolean => own.sweep.some((r) => r.erasedClass === sweepClass && r.parameter === point.parameter && r.value === point.value);
    if (!claim(key, done)) continue;
    try {
      const row = await runOne(BENCH_METHODS.find((m) => m.id === point.method) as BenchMethod, sweepClass, point.overrides);
      if (done()) continue;
      own.sweep.push({ erasedClass: sweepClass, parameter: point.parameter, value: point.value, meanProbability: row.meanProbability, methodSeconds: row.methodSeconds, ...(row.commit ? { commit: row.commit } : {}) });
      measured();
      console.log(`sweep ${point.parameter} = ${point.value}: H_o ${f(row.meanProbability.ho)}`);
      write();
    } finally {
      release(key);
    }
  }
}
write();
console.log(`wrote ${outPath} (${((performance.now() - benchStarted) / 60000).toFixed(1)} min)`);
original.dispose();
world.dispose();
