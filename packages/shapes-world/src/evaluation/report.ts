/**
 * Renders a `WorldEvaluation` as the markdown report of `docs/shapes-world/` and as plain JSON (every number of the
 * run; the grid's pixels are left out — they are in the PNG).
 */
import type { WorldEvaluation } from './evaluate-world';
import type { PromptScore } from './prompt-scores';
import { PHOTO_PREFIX } from './prompts';
import { QUALITY_THRESHOLDS } from './quality';
import type { ErasureFigures } from './residue';

/** Where and how the run happened (recorded in both outputs). */
export interface RunEnvironment {
  /** The command line, e.g. `pnpm eval:shapes -- --seeds 50`. */
  readonly command: string;
  /** ISO date of the run. */
  readonly date: string;
  /** The weights folder. */
  readonly weightsDir: string;
  /** tfjs backend and threads (null where the backend manages its own). */
  readonly backend: string;
  readonly threads: number | null;
  /** e.g. `Node v20.20.2, linux x64, 2 cores`. */
  readonly machine: string;
  /** File name of the grid PNG next to the report. */
  readonly gridFile: string;
}

/** Residue is called absent when mean Acc_g − mean Acc_e (mean probability) is at most this many points. */
export const RESIDUE_ABSENT_GAP = 5;

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
const pass = (ok: boolean): string => (ok ? '**pass**' : '**FAIL**');

/** The run as JSON text (grid pixels omitted; NaN becomes null). */
export function evaluationToJson(evaluation: WorldEvaluation, environment: RunEnvironment): string {
  const { grid, ...quality } = evaluation.quality;
  const value = {
    environment,
    ...evaluation,
    quality: { ...quality, grid: { rows: grid.rows, seeds: grid.seeds, imageShape: grid.imageShape, file: environment.gridFile } },
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The markdown report. */
export function evaluationToMarkdown(evaluation: WorldEvaluation, environment: RunEnvironment): string {
  const { quality, geometry, residue, speed, timings } = evaluation;
  const names = quality.classPrompts.map((p) => p.prompt.slice(PHOTO_PREFIX.length + 1));
  const seeds = evaluation.seeds;
  const seedText = seeds.length > 1 && seeds.every((s, i) => s === (seeds[0] as number) + i) ? `${seeds[0]}–${seeds[seeds.length - 1]}` : seeds.join(', ');
  const lines: string[] = [];
  const push = (...more: string[]): void => {
    lines.push(...more);
  };
  push(
    '# ShapesWorld: measured generation quality, speed, text geometry and concept residue',
    '',
    `Written by \`${environment.command}\` on ${environment.date}. Weights: \`${environment.weightsDir}\` (${evaluation.source}). ` +
      `${environment.machine}; tfjs ${environment.backend}${environment.threads === null ? '' : `, ${environment.threads} thread(s)`}.`,
    `Every prompt uses the same ${seeds.length} seeds (${seedText}); seed s starts from z_T = \`new Rng(s).normalTensor([1, 12, 12, 12])\`, ` +
      `the same noise under every prompt and every edited model. DDIM ${speed.steps} steps, guidance ${speed.guidanceScale} against "", ` +
      `batches of ${speed.batchSize}. Raw numbers: \`evaluation.json\`. Total wall time ${(timings.totalMs / 1000).toFixed(0)} s.`,
    ...(seeds.length < 50
      ? ['', `**A smoke run: ${seeds.length} seed(s) per prompt.** Tables for reporting need ≥ 50 (10 seeds per prompt give about ±13 points).`]
      : []),
    '',
    '## 1. Generation quality (oracle top-1)',
    '',
    `- "a photo of the {class}": **${f1(quality.classTop1)}%** averaged over classes (mean probability ${f1(quality.classMeanProbability)}%) — ` +
      `acceptance ≥ ${QUALITY_THRESHOLDS.classTop1}%: ${pass(quality.passes.classes)}.`,
    `- "a photo of the {synonym}": **${f1(quality.synonymTop1)}%** averaged over the ${quality.synonymPrompts.length} synonyms ` +
      `(mean probability ${f1(quality.synonymMeanProbability)}%) — acceptance ≥ ${QUALITY_THRESHOLDS.synonymTop1}%: ${pass(quality.passes.synonyms)}.`,
    '',
    `Per class (${seeds.length} images per prompt). Priors: the rate of each class among the images of the bare prefix "${PHOTO_PREFIX}" and of "" ` +
      '(a word-level edit leaves the prefix untouched, so a class the prefix already draws keeps part of its Acc_e and Acc_g).',
    '',
    '| class | top-1 % | mean prob. % | synonyms: top-1 % (mean prob. %) | prior "a photo of the" % | prior "" % |',
    '| --- | ---: | ---: | --- | ---: | ---: |',
  );
  quality.classPrompts.forEach((p, k) => {
    const synonyms = quality.synonymPrompts.filter((s) => s.label === k).map((s) => `${wordOf(s)} ${f1(s.top1)} (${f1(s.meanProbability)})`);
    push(`| ${names[k]} | ${f1(p.top1)} | ${f1(p.meanProbability)} | ${synonyms.join(', ')} | ${f1(quality.prefix.top1ByClass[k] as number)} | ${f1(quality.empty.top1ByClass[k] as number)} |`);
  });
  push(
    '',
    `![grid](${environment.gridFile})`,
    '',
    `\`${environment.gridFile}\`: rows ${quality.grid.rows.map((r) => `"${r}"`).join(', ')}; columns seeds ${quality.grid.seeds.join(', ')}; ` +
      'each 24 × 24 image upscaled ×4 (nearest neighbour).',
    '',
    '## 2. Generation speed',
    '',
    `**${f1(speed.msPerImage)} ms per image** (${speed.images} images, batched ${speed.batchSize} per call, ${speed.steps} DDIM steps, guidance ` +
      `${speed.guidanceScale} → ${speed.unetEvaluationsPerImage} UNet evaluations per image; wall time inside \`textToImage\`, tfjs ${environment.backend}` +
      `${environment.threads === null ? '' : `, ${environment.threads} thread(s)`}). Oracle: ${f2(speed.classifyMsPerImage)} ms per image. ` +
      `Parts: quality ${(timings.qualityMs / 1000).toFixed(0)} s, text geometry ${(timings.geometryMs / 1000).toFixed(1)} s, residue ${(timings.residueMs / 1000).toFixed(0)} s.`,
    '',
    '## 3. Text geometry',
    '',
    `Final hidden states of "a photo of the {w}" for the ${names.length} class words and their synonyms, minus their mean; cosines at the word's position ` +
      `(${geometry.wordPosition}), at the first end token, and over all ${geometry.contextLength - geometry.wordPosition - 1} end tokens after the word (flattened).`,
    '',
    `Means over classes: class vs its own synonyms **${f2(geometry.ownSynonyms.word)}** (word) / ${f2(geometry.ownSynonyms.eos)} (first end token) / ` +
      `**${f2(geometry.ownSynonyms.end)}** (end tokens); class vs other classes **${f2(geometry.otherClasses.word)}** / ${f2(geometry.otherClasses.eos)} / ` +
      `**${f2(geometry.otherClasses.end)}**. (Prototype: 0.89 at the word, 0.99 at the end tokens; −0.05 to −0.10 against other classes.)`,
    '',
    '| class | own synonyms: word | end tokens | per synonym (word / end) | other classes: word (min…max) | end tokens (min…max) |',
    '| --- | ---: | ---: | --- | --- | --- |',
  );
  for (const g of geometry.perClass) {
    push(
      `| ${g.name} | ${f2(g.ownSynonyms.mean.word)} | ${f2(g.ownSynonyms.mean.end)} | ${g.synonyms.map((s) => `${s.synonym} ${f2(s.word)} / ${f2(s.end)}`).join(', ')} | ` +
        `${f2(g.otherClasses.mean.word)} (${f2(g.otherClasses.min.word)}…${f2(g.otherClasses.max.word)}) | ` +
        `${f2(g.otherClasses.mean.end)} (${f2(g.otherClasses.min.end)}…${f2(g.otherClasses.max.end)}) |`,
    );
  }
  const w = residue.settings.weights;
  const m = residue.means.meanProbability;
  const gap = m.accG - m.accE;
  push(
    '',
    '## 4. Concept residue under a word-level erasure',
    '',
    `For each class c: the UCE closed form (\`editCrossAttentionSites\`, technique \`replace\`) on all ${residue.settings.projectionCount} \`attn2.to_k\`/\`to_v\`, ` +
      `λ = ${w.lambda}, s_e = ${w.eraseScale}, s_p = ${f2(w.preserveScale)}; erase keys = "a photo of the c" from the word (position ${residue.settings.sliceStart}) ` +
      `to the end of the context (${residue.settings.sliceLength} rows), aligned with the anchor "${residue.settings.anchorPrompt}" from its own last word token ` +
      `(UCE 2023); preserved: the other classes' prompts, all positions. Then Acc_e (c's prompt, ${residue.seeds.length} seeds), Acc_s (the other classes' prompts, ` +
      `${residue.otherSeeds.length} seeds each), Acc_g (c's 3 synonyms, ${residue.seeds.length} seeds each, ` +
      `scored as c) from the oracle's probabilities through @erase/eval's \`scoreErasedClass\`, and the weights are restored ` +
      `(${residue.perClass.every((c) => c.restored) ? 'bit-identical after every class' : 'NOT bit-identical'}).`,
    '',
    residueVerdict(evaluation),
    '',
    '| erased class | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ | top-1: Acc_e | Acc_s | Acc_g | H_o | prior "a photo of the" % | ρ class; synonyms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const c of residue.perClass) {
    const ratios = c.predictor.map((p) => `${p.word} ${f2(p.ratio)}`).join(', ');
    push(`| ${c.erasedClass} | ${figures(c.meanProbability)} | ${figures(c.top1)} | ${f1(quality.prefix.top1ByClass[c.label] as number)} | ${ratios} |`);
  }
  push(
    `| **mean** | ${figures(residue.means.meanProbability, true)} | ${figures(residue.means.top1, true)} | | |`,
    '',
    `First four columns: mean probability of the intended class (MACE); then top-1 rates. Residue (mean Acc_g − Acc_e) = ${f1(gap)} points. ` +
      'Prototype (PyTorch, 20/10 seeds): Acc_e 14.5, Acc_s 93.0, Acc_g 26.7, H_o 79.4; RealEra\'s UCE row on SD 1.4: 13.54 / 98.45 / 23.18 / 85.48.',
    '',
    'ρ = √(Σ_W ‖H W′ᵀ − H_a Wᵀ‖²) / √(Σ_W ‖H Wᵀ − H_a Wᵀ‖²) over the prompt\'s slice H (word to end) and the aligned anchor rows H_a, summed over ' +
      'every edited projection: the share of its distance to the anchor a prompt keeps after the edit (computed before sampling). Per synonym:',
    '',
    '| erased class | synonym | ρ | its images shown as the class: mean prob. % | top-1 % |',
    '| --- | --- | ---: | ---: | ---: |',
  );
  for (const c of residue.perClass) {
    c.prompts.synonyms.forEach((s, j) => {
      push(`| ${c.erasedClass} | ${wordOf(s)} | ${f2(c.predictor[j + 1]?.ratio ?? Number.NaN)} | ${f1(s.meanProbability)} | ${f1(s.top1)} |`);
    });
  }
  push('', predictorSummary(evaluation), '');
  return `${lines.join('\n')}\n`;
}

function wordOf(score: PromptScore): string {
  return score.prompt.slice(PHOTO_PREFIX.length + 1);
}

function figures(x: ErasureFigures, bold = false): string {
  const b = (s: string): string => (bold ? `**${s}**` : s);
  return [x.accE, x.accS, x.accG, x.ho].map((v) => b(f1(v))).join(' | ');
}

/** The plain-language verdict on residue (absent when the gap is ≤ RESIDUE_ABSENT_GAP points). */
export function residueVerdict(evaluation: WorldEvaluation): string {
  const { residue, quality } = evaluation;
  if (residue.perClass.length === 0) return 'No class was erased.';
  if (!quality.passes.classes) {
    return `**No verdict on residue**: the unedited world draws its classes only ${f1(quality.classTop1)}% of the time (acceptance ≥ ` +
      `${QUALITY_THRESHOLDS.classTop1}%), so Acc_e, Acc_s and Acc_g below do not measure an erasure.`;
  }
  const m = residue.means.meanProbability;
  const gap = m.accG - m.accE;
  const strong = residue.perClass
    .filter((c) => c.meanProbability.accG - c.meanProbability.accE > 20)
    .map((c) => `${c.erasedClass} (Acc_g ${f1(c.meanProbability.accG)} vs Acc_e ${f1(c.meanProbability.accE)})`);
  if (gap <= RESIDUE_ABSENT_GAP) {
    return `**Residue is absent in this world**: mean Acc_g ${f1(m.accG)} ≈ Acc_e ${f1(m.accE)} (gap ${f1(gap)} points ≤ ${RESIDUE_ABSENT_GAP}) — the synonyms are ` +
      'erased together with the class word, so this world cannot show what a method gains on generality.' +
      (strong.length > 0 ? ` Exceptions: ${strong.join(', ')}.` : '');
  }
  return `**Residue is present**: mean Acc_g ${f1(m.accG)} vs Acc_e ${f1(m.accE)} (gap ${f1(gap)} points)` +
    (strong.length > 0 ? `; largest in ${strong.join(', ')}.` : '.');
}

function predictorSummary(evaluation: WorldEvaluation): string {
  const pairs = evaluation.residue.perClass.flatMap((c) => c.prompts.synonyms.map((s, j) => ({ ratio: c.predictor[j + 1]?.ratio ?? Number.NaN, kept: s.meanProbability })));
  const high = pairs.filter((p) => p.ratio >= 0.4);
  const low = pairs.filter((p) => p.ratio <= 0.15);
  const avg = (xs: { kept: number }[]): string => (xs.length === 0 ? '–' : f1(xs.reduce((a, p) => a + p.kept, 0) / xs.length));
  return `Predictor check: ${high.length} synonyms with ρ ≥ 0.40 keep a mean probability of ${avg(high)}% for the erased class; ` +
    `${low.length} with ρ ≤ 0.15 keep ${avg(low)}% (prototype: ≥ 0.40 survived, ≤ 0.15 were erased).`;
}
