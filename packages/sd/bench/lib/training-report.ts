/**
 * The markdown fragment of `pnpm bench:train` (docs/benchmarks/training.md): step times side by side with PyTorch,
 * the parameter check, the 32×32 heap measurement and the per-kernel profiles.
 */
import type { TrainCase, TrainResult } from '../train-task';
import type { ChildOutcome } from './child';
import { machineMarkdown, type MachineInfo } from './machine';
import type { TorchResult } from './pytorch';
import { fmtMs, mib } from './timing';

/** One benchmarked network. */
export interface CaseSpec {
  readonly case: TrainCase;
  readonly title: string;
  readonly input: string;
  readonly batch: number;
  /** Latent side (0 for the text encoder). */
  readonly size: number;
  readonly tokens: number;
  /** config.json handed to train_step.py. */
  readonly config: string;
}

/** Everything measured for one network. */
export interface CaseRuns {
  readonly spec: CaseSpec;
  readonly wasm: readonly { readonly threads: number; readonly outcome: ChildOutcome<TrainResult> }[];
  /** The one tfjs-cpu step and its batch. */
  readonly cpu: { readonly batch: number; readonly outcome: ChildOutcome<TrainResult> } | undefined;
  readonly pytorch: readonly { readonly threads: number; readonly result?: TorchResult; readonly reason?: string }[];
}

/** Inputs of `trainingMarkdown`. */
export interface TrainingReport {
  readonly machine: MachineInfo;
  /** os.loadavg() when the run ended. */
  readonly loadAtEnd: readonly number[];
  readonly smoke: boolean;
  readonly command: string;
  readonly minutes: number;
  readonly warmup: number;
  readonly steps: number;
  readonly threadCounts: readonly number[];
  readonly torch: { readonly version: string; readonly python: string } | { readonly reason: string };
  readonly runs: readonly CaseRuns[];
  readonly big: ChildOutcome<TrainResult>;
  readonly skippedLora: boolean;
}

const TARGET = 1.5;

function torchCell(t: CaseRuns['pytorch'][number] | undefined): string {
  if (t?.result === undefined) return t?.reason !== undefined ? 'skipped' : '—';
  const r = t.result;
  return `${fmtMs(r.medianStepMs)} (${fmtMs(r.forwardMs)} / ${fmtMs(r.backwardMs)} / ${fmtMs(r.optimizerMs)})`;
}

function stepRows(run: CaseRuns): string[] {
  const rows = run.wasm.map(({ threads, outcome }) => {
    const torch = run.pytorch.find((p) => p.threads === threads);
    if (!outcome.ok) return `| ${run.spec.title} | wasm | ${threads} | failed: ${outcome.reason} | | | | ${torchCell(torch)} | |`;
    const r = outcome.result;
    const ratio = torch?.result ? `${(r.medianStepMs / torch.result.medianStepMs).toFixed(2)}×` : '—';
    return `| ${run.spec.title} | wasm | ${r.threads ?? threads} | ${fmtMs(r.medianStepMs)} | ${fmtMs(r.forwardMs)} | ${fmtMs(r.optimizerMs)} | ${mib(r.heapBytes)} | ${torchCell(torch)} | ${ratio} |`;
  });
  if (run.cpu) {
    const { batch, outcome } = run.cpu;
    const note = batch === run.spec.batch ? '1 step' : `1 step, batch ${batch}`;
    rows.push(outcome.ok
      ? `| ${run.spec.title} | cpu | 1 | ${fmtMs(outcome.result.medianStepMs)} (${note}) | — | ${fmtMs(outcome.result.optimizerMs)} | — | — | — |`
      : `| ${run.spec.title} | cpu | 1 | failed: ${outcome.reason} | | | | | |`);
  }
  return rows;
}

function checkLine(run: CaseRuns): string {
  const ts = run.wasm.find((w) => w.outcome.ok)?.outcome;
  const py = run.pytorch.find((p) => p.result)?.result;
  if (!ts?.ok) return `- ${run.spec.title}: no tfjs result.`;
  const t = ts.result;
  const leak = t.tensorsAfterSteps.every((n) => n === t.tensorsAfterSteps[0]) ? 'tensor count constant across steps' : `tensor count changed: ${t.tensorsAfterSteps.join(', ')}`;
  const loss = t.finiteLoss ? 'finite loss' : '**non-finite loss**';
  if (py === undefined) return `- ${run.spec.title}: tfjs ${t.params.toLocaleString('en-US')} parameters (${t.trainableParams.toLocaleString('en-US')} trained); ${leak}; ${loss}.`;
  const same = py.keysDigest === t.keysDigest ? 'identical parameter names and shapes' : '**parameter names/shapes differ**';
  return `- ${run.spec.title}: tfjs ${t.params.toLocaleString('en-US')} / PyTorch ${py.params.toLocaleString('en-US')} parameters, ` +
    `trained ${t.trainableParams.toLocaleString('en-US')} / ${py.trainableParams.toLocaleString('en-US')}; ${same}; ${leak}; ${loss}.`;
}

function targetLine(run: CaseRuns, threads: number): string {
  const w = run.wasm.find((x) => x.threads === threads)?.outcome;
  const p = run.pytorch.find((x) => x.threads === threads)?.result;
  if (!w?.ok || p === undefined) return `- ${run.spec.title}: not measured.`;
  const ratio = w.result.medianStepMs / p.medianStepMs;
  // More threads should never be slower; when they are, the cores were taken by other work and the ratio says little.
  const w1 = run.wasm.find((x) => x.threads === 1)?.outcome;
  const p1 = run.pytorch.find((x) => x.threads === 1)?.result;
  const slower = [
    threads > 1 && w1?.ok && w.result.medianStepMs > w1.result.medianStepMs ? 'tfjs' : '',
    threads > 1 && p1 !== undefined && p.medianStepMs > p1.medianStepMs ? 'PyTorch' : '',
  ].filter(Boolean);
  const caveat = slower.length > 0 ? ` (**unreliable**: ${slower.join(' and ')} ran slower with ${threads} threads than with 1 — the cores were busy)` : '';
  return `- ${run.spec.title}: ${ratio.toFixed(2)}× — ${ratio <= TARGET ? 'met' : '**missed**'}${caveat}.`;
}

function profileSection(run: CaseRuns, threads: number): string[] {
  const w = run.wasm.find((x) => x.threads === threads)?.outcome;
  if (!w?.ok || w.result.kernels === undefined) return [];
  const kernels = w.result.kernels;
  const total = kernels.reduce((a, k) => a + k.ms, 0);
  const row = (k: { kernel: string; calls: number; ms: number }) => `| ${k.kernel} | ${k.calls} | ${fmtMs(k.ms)} | ${((100 * k.ms) / total).toFixed(1)}% |`;
  return [
    `### ${run.spec.title} (${fmtMs(total)} ms of kernel time in the profiled step, ${kernels.reduce((a, k) => a + k.calls, 0)} kernel calls)`,
    '',
    '| kernel | calls | ms | share |',
    '|---|---:|---:|---:|',
    ...kernels.slice(0, 10).map(row),
    '',
    ...(w.result.kernelsByShape
      ? ['Largest kernel × input-shape groups:', '', '| kernel [input shapes] | calls | ms | share |', '|---|---:|---:|---:|', ...w.result.kernelsByShape.slice(0, 8).map(row), '']
      : []),
  ];
}

/** The fragment's markdown. */
export function trainingMarkdown(r: TrainingReport): string {
  const maxThreads = r.threadCounts[r.threadCounts.length - 1] as number;
  const blas = r.runs.flatMap((run) => run.pytorch).find((p) => p.result)?.result?.blas;
  const torchLine = 'reason' in r.torch
    ? `PyTorch comparison skipped: ${r.torch.reason}.`
    : `PyTorch ${r.torch.version} (${r.torch.python}; BLAS ${blas ?? 'unknown'}), \`benchmarks/pytorch/train_step.py\`, threads fixed per run (OMP/OpenBLAS + torch.set_num_threads) to the wasm thread count.`;
  const big = r.big;
  return [
    '# Training-step benchmarks (`pnpm bench:train`)',
    '',
    ...(r.smoke ? ['> **Smoke run** (`--smoke`: 1 warm-up step, 2 timed steps) — checks the harness; not benchmark numbers.', ''] : []),
    ...machineMarkdown(r.machine, [torchLine, `Load average at the end: ${r.loadAtEnd.map((l) => l.toFixed(2)).join(' / ')}.`]),
    `- Whole run: ${r.minutes.toFixed(1)} min. Command: \`cd packages/sd && pnpm bench:train\` (\`${r.command}\`).`,
    `- A step = loss forward with the gradient tape, backward (\`tf.variableGrads\`), one AdamW update (lr 1e-3, weight decay 0.01), read of the loss. ${r.warmup} warm-up step(s), then the median of ${r.steps}. ` +
      'Random weights and fixed random inputs (timing only). "forward" = a tape-free forward pass of the loss. Heap = wasm memory size after the run (high-water mark). PyTorch columns: step (forward / backward / AdamW), same median.',
    '',
    '## ms per training step',
    '',
    '| network | backend | threads | step ms | forward ms | AdamW ms | wasm heap (MiB) | PyTorch step ms (fwd / bwd / AdamW) | tfjs ÷ PyTorch |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.runs.flatMap(stepRows),
    '',
    ...(r.skippedLora ? ['(c) LoRA on the tiny SD UNet: skipped — the parity fixtures were not found (set ERASE_FIXTURES).', ''] : []),
    'Inputs: ' + r.runs.map((run) => `${run.spec.title}: ${run.spec.input}`).join('; ') + '.',
    '',
    'Checks:',
    '',
    ...r.runs.map(checkLine),
    '',
    `## Target: tfjs-wasm ≤ ${TARGET}× PyTorch at ${maxThreads} thread(s)`,
    '',
    ...r.runs.map((run) => targetLine(run, maxThreads)),
    '',
    '## Peak wasm heap: world UNet training step at 32×32 latents, batch 32',
    '',
    big.ok
      ? `Fits: heap ${mib(big.result.heapBeforeBytes)} MiB before the first step, ${mib(big.result.heapBytes)} MiB after ${big.result.stepMs.length} steps ` +
        `(the wasm32 limit is 4096 MiB); ${fmtMs(big.result.medianStepMs)} ms per step at ${big.result.threads} thread(s); ` +
        `tensor count after each step: ${big.result.tensorsAfterSteps.join(', ')}.`
      : `**Does not fit / failed**: ${big.reason}.`,
    '',
    `## Where the time goes (tfjs-wasm, ${maxThreads} thread(s), one profiled step, wall clock per kernel)`,
    '',
    'Kernel names are tfjs\'s. Many calls of BatchMatMul, or large shares of SplitV / Unpack / Pack / Slice / Transpose, point at ' +
      'data movement and per-head loops rather than arithmetic.',
    '',
    ...r.runs.flatMap((run) => profileSection(run, maxThreads)),
  ].join('\n');
}
