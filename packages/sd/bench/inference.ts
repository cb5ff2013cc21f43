/**
 * `pnpm bench`: inference speed of full-size SD 1.5 networks with random weights (no files needed) on tfjs-wasm,
 * one thread and all threads, written to docs/benchmarks/inference.md with the machine's description.
 *
 *   npx tsx bench/inference.ts [--threads N] [--clip-reps 3] [--unet-reps 2] [--warmup 1] [--no-cpu] [--no-whole]
 *     [--unet-size 64] [--unet-batch 2] [--out docs/benchmarks/inference.md] [--smoke]
 *
 * Measures (each in its own child process, `inference-task.ts`):
 * 1. CLIP text encoder (ViT-L/14: 12 layers, width 768, 77 tokens) `encode`, batch 1 and 16.
 * 2. The UNet (860M parameters) on latents [2, 64, 64, 4]. Its fp32 weights (3.44 GB) and activations exceed the
 *    4 GiB wasm heap: the whole model is tried once; when it aborts, the UNet is timed part by part
 *    (`lib/unet-blockwise.ts`: weights uploaded per part, real inputs) and the parts are summed.
 * 3. References: the text encoder on tfjs-cpu (batch 1, one run), and the tiny SD 1.x UNet of the parity fixtures
 *    on cpu and wasm.
 * Times: `--warmup` untimed runs, then the median of the reps. GFLOP/s counts matrix products only
 * (`lib/flops.ts`). Heap = the wasm memory's size after the measurement (its high-water mark: it never shrinks).
 * Budget: about 8–10 min on 2 idle cores (mostly the UNet: ~1.6 TFLOP per forward pass). `--smoke` runs one
 * timed pass of everything at reduced size (UNet 32×32 batch 1, text encoder batch 1 and 4) to check the harness.
 * `--no-whole` skips the whole-model attempt (it aborts for SD 1.5 in fp32; ~1–2 min).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseClipTextConfig } from '../src/text-encoder/config';
import { parseUNetConfig } from '../src/unet/config';
import { optionFlag, optionNumber, optionString } from './lib/args';
import { runChild, type ChildOutcome } from './lib/child';
import { SD15_TEXT_ENCODER, SD15_UNET, tinyUNetDir } from './lib/configs';
import { clipForwardFlops, gflops, unetForwardFlops, unetForwardFlopsByPart } from './lib/flops';
import { writeFragment } from './lib/fragment';
import { describeMachine, machineMarkdown } from './lib/machine';
import { fmtMs, mib } from './lib/timing';
import type { TaskResult } from './inference-task';

const TASK = fileURLToPath(new URL('./inference-task.ts', import.meta.url));
const smoke = optionFlag('smoke');
const allThreads = optionNumber('threads', os.availableParallelism());
const warmup = optionNumber('warmup', 1);
const clipReps = optionNumber('clip-reps', smoke ? 1 : 3);
const unetReps = optionNumber('unet-reps', smoke ? 1 : 2);
const unetSize = optionNumber('unet-size', smoke ? 32 : 64);
const unetBatch = optionNumber('unet-batch', smoke ? 1 : 2);
const clipBatches = (optionString('clip-batches') ?? (smoke ? '1,4' : '1,16')).split(',').map(Number);
const out = optionString('out') ?? 'inference.md';
const threadCounts = allThreads > 1 ? [1, allThreads] : [1];
const MINUTES = 60_000;

const clipConfig = parseClipTextConfig(SD15_TEXT_ENCODER);
const unetConfig = parseUNetConfig(SD15_UNET);

function task(args: string[], label: string, timeoutMin: number, warmupRuns = warmup): ChildOutcome<TaskResult> {
  return runChild<TaskResult>(TASK, [...args, '--warmup', String(warmupRuns)], timeoutMin * MINUTES, label);
}

function clipRows(outcome: ChildOutcome<TaskResult>, backend: string, threads: number): string[] {
  if (!outcome.ok) return [`| ${backend} | ${threads} | — | failed: ${outcome.reason} | | |`];
  const r = outcome.result;
  return r.forwards.map((f) => {
    const g = gflops(clipForwardFlops(clipConfig, f.batch, clipConfig.maxPositionEmbeddings), f.medianMs);
    return `| ${backend} | ${r.threads ?? threads} | ${f.batch} | ${fmtMs(f.medianMs)} (${f.times.length} run${f.times.length > 1 ? 's' : ''}) | ${g.toFixed(1)} | ${r.backend === 'wasm' ? mib(r.heapBytes) : '—'} |`;
  });
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const started = performance.now();
  const clip: { threads: number; outcome: ChildOutcome<TaskResult> }[] = [];
  for (const threads of threadCounts) {
    const args = ['--task', 'clip', '--backend', 'wasm', '--threads', String(threads), '--batches', clipBatches.join(','), '--reps', String(clipReps)];
    clip.push({ threads, outcome: task(args, `text encoder, wasm, ${threads} thread(s)`, 10) });
  }
  const clipCpu = optionFlag('no-cpu') ? undefined : task(['--task', 'clip', '--backend', 'cpu', '--batches', '1', '--reps', '1'], 'text encoder, cpu', 10, 0); // nothing to pack on cpu

  const pack = runChild<{ matMulGrowth: number; convGrowth: number }>(TASK, ['--task', 'pack', '--backend', 'wasm', '--threads', '1'], 5 * MINUTES, 'weight packing overhead');
  const packing = pack.ok
    ? `tfjs-wasm's XNNPACK operators keep a packed copy of every weight they use until the weight is disposed (measured here: the heap grows by ≈${pack.result.matMulGrowth.toFixed(1)}× the weight bytes on a Linear weight's first matMul and ≈${pack.result.convGrowth.toFixed(1)}× on a 3×3 conv filter's first conv, ±0.2), so a model needs about twice its weights in heap.`
    : `(The packing measurement failed: ${pack.reason}.)`;
  const unetArgs = (t: string, threads: number) => ['--task', t, '--backend', 'wasm', '--threads', String(threads), '--batch', String(unetBatch), '--size', String(unetSize), '--reps', String(unetReps)];
  // The smoke run tries the whole model at the real size (it aborts early) and times the parts at the reduced size.
  const fullArgs = smoke ? ['--task', 'unet', '--backend', 'wasm', '--threads', '1', '--batch', '2', '--size', '64', '--reps', '1'] : unetArgs('unet', 1);
  const fullShape = smoke ? '[2, 64, 64, 4]' : `[${unetBatch}, ${unetSize}, ${unetSize}, 4]`;
  const full: ChildOutcome<TaskResult> = optionFlag('no-whole')
    ? { ok: false, reason: 'not tried this run (--no-whole)', seconds: 0 }
    : task(fullArgs, 'UNet, whole model, wasm, 1 thread', 15);
  const unet: { threads: number; whole: boolean; outcome: ChildOutcome<TaskResult> }[] = [{ threads: 1, whole: full.ok, outcome: full }];
  if (full.ok && !smoke) {
    for (const threads of threadCounts.slice(1)) unet.push({ threads, whole: true, outcome: task(unetArgs('unet', threads), `UNet, whole model, wasm, ${threads} threads`, 15) });
  } else {
    unet.length = 0;
    for (const threads of threadCounts) unet.push({ threads, whole: false, outcome: task(unetArgs('unet-blocks', threads), `UNet part by part, wasm, ${threads} thread(s)`, 15) });
  }
  const tiny = tinyUNetDir() === undefined
    ? undefined
    : [
        ...(optionFlag('no-cpu') ? [] : [task(['--task', 'tiny-unet', '--backend', 'cpu', '--batch', '2', '--reps', '3'], 'tiny UNet, cpu', 5)]),
        ...threadCounts.map((threads) => task(['--task', 'tiny-unet', '--backend', 'wasm', '--threads', String(threads), '--batch', '2', '--reps', '3'], `tiny UNet, wasm, ${threads} thread(s)`, 5)),
      ];

  const wasmInfo = clip.find((c) => c.outcome.ok)?.outcome;
  const simd = wasmInfo?.ok ? wasmInfo.result.simd : null;
  const lines: string[] = [
    '# Inference benchmarks (`pnpm bench`)',
    '',
    ...(smoke ? ['> **Smoke run** (`--smoke`: reduced sizes and one timed run) — checks the harness; not benchmark numbers.', ''] : []),
    ...machineMarkdown(machine, [
      `tfjs-wasm SIMD: ${String(simd)}; thread counts measured: ${threadCounts.join(', ')}.`,
      `Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}.`,
    ]),
    `- Whole run: ${((performance.now() - started) / 60_000).toFixed(1)} min. Command: \`cd packages/sd && pnpm bench\` (\`npx tsx bench/inference.ts ${process.argv.slice(2).join(' ')}\`).`,
    '- Random weights with realistic magnitudes (no files needed), float32. Times: wall clock per forward pass, ' +
      `${warmup} warm-up run(s) on one sample (UNet: and a quarter of the latent map), enough for XNNPACK to pack every weight, ` +
      'then the median of the timed runs. GFLOP/s counts matrix products only ' +
      '(convolutions, linears, QKᵀ and attention·V; `bench/lib/flops.ts`). Heap: the wasm memory size after the ' +
      'measurement, i.e. its high-water mark (wasm memory never shrinks); 4 GiB is the wasm32 limit.',
    '',
    `## SD 1.5 text encoder (CLIP ViT-L/14, ${(clip[0]?.outcome.ok ? clip[0].outcome.result.params / 1e6 : 123.06).toFixed(2)}M parameters), \`encode\` of [B, 77] token ids`,
    '',
    '| backend | threads | batch | ms | GFLOP/s | wasm heap (MiB) |',
    '|---|---:|---:|---:|---:|---:|',
    ...clip.flatMap((c) => clipRows(c.outcome, 'wasm', c.threads)),
    ...(clipCpu ? clipRows(clipCpu, 'cpu', 1) : []),
    '',
    ...unetSection(full),
    ...(tiny ? tinySection(tiny) : ['Tiny parity UNet: skipped (fixtures not found; set ERASE_FIXTURES).']),
  ];
  const path = writeFragment(out, lines.join('\n'));
  process.stderr.write(`[bench] wrote ${path}\n`);
  console.log(lines.join('\n'));

  function unetSection(whole: ChildOutcome<TaskResult>): string[] {
    const total = unetForwardFlops(unetConfig, unetBatch, unetSize, unetSize, 77);
    const head = [
      `## SD 1.5 UNet (859.52M parameters, ${(total / 1e9).toFixed(0)} GFLOP per pass): latents [${unetBatch}, ${unetSize}, ${unetSize}, 4], context [${unetBatch}, 77, 768]`,
      '',
    ];
    if (whole.ok && !smoke) {
      return [
        ...head,
        '| threads | ms | GFLOP/s | wasm heap (MiB) | build (s) |',
        '|---:|---:|---:|---:|---:|',
        ...unet.map(({ threads, outcome }) => (outcome.ok
          ? `| ${outcome.result.threads ?? threads} | ${fmtMs(outcome.result.forwards[0]?.medianMs)} | ${gflops(total, outcome.result.forwards[0]?.medianMs ?? NaN).toFixed(1)} | ${mib(outcome.result.heapBytes)} | ${(outcome.result.buildMs / 1e3).toFixed(1)} |`
          : `| ${threads} | failed: ${outcome.reason} | | | |`)),
        '',
      ];
    }
    const byPart = unetForwardFlopsByPart(unetConfig, unetBatch, unetSize, unetSize, 77);
    const runs = unet.map((u) => u.outcome);
    const parts = runs.find((r) => r.ok)?.ok ? (runs.find((r) => r.ok) as { result: TaskResult }).result.parts ?? [] : [];
    const cell = (r: ChildOutcome<TaskResult>, part: string, flops: number): string => {
      if (!r.ok) return '— | —';
      const p = r.result.parts?.find((q) => q.part === part);
      return p === undefined ? '— | —' : `${fmtMs(p.medianMs)} | ${gflops(flops, p.medianMs).toFixed(1)}`;
    };
    const sum = (r: ChildOutcome<TaskResult>, pick: (p: NonNullable<TaskResult['parts']>[number]) => number): number =>
      r.ok ? (r.result.parts ?? []).reduce((a, p) => a + pick(p), 0) : NaN;
    return [
      ...head,
      (whole.ok
        ? `The whole UNet ran on ${fullShape} (smoke run: the parts are timed anyway). `
        : optionFlag('no-whole')
          ? 'The whole UNet was not tried this run (`--no-whole`). '
          : `**The whole UNet does not fit the wasm heap**: building it and running one pass on ${fullShape} aborted (${whole.reason}). `) +
        `Its fp32 weights alone are 3.44 GB of the 4 GiB wasm32 heap. ${packing} Below, each part runs with only its own weights ` +
        'uploaded (on the real outputs of the part before it); the total is the sum of the parts, without uploads.',
      '',
      `| part | params (M) | GFLOP | ${threadCounts.map((t) => `${t} thread${t > 1 ? 's' : ''}: ms | GFLOP/s`).join(' | ')} |`,
      `|---|---:|---:|${threadCounts.map(() => '---:|---:').join('|')}|`,
      ...parts.map((p) => `| ${p.part} | ${(p.params / 1e6).toFixed(1)} | ${((byPart.get(p.part) ?? NaN) / 1e9).toFixed(1)} | ${runs.map((r) => cell(r, p.part, byPart.get(p.part) ?? NaN)).join(' | ')} |`),
      `| **UNet (sum)** | ${(parts.reduce((a, p) => a + p.params, 0) / 1e6).toFixed(1)} | ${(total / 1e9).toFixed(1)} | ${runs.map((r) => `**${fmtMs(sum(r, (p) => p.medianMs))}** | ${gflops(total, sum(r, (p) => p.medianMs)).toFixed(1)}`).join(' | ')} |`,
      '',
      `Weight upload (host layout change + copy into the heap), summed over parts: ${runs.map((r, i) => `${threadCounts[i]} thread(s) ${(sum(r, (p) => p.uploadMs) / 1e3).toFixed(1)} s`).join(', ')}. ` +
        `Peak wasm heap: ${runs.map((r, i) => `${threadCounts[i]} thread(s) ${r.ok ? mib(r.result.heapBytes) : '—'} MiB`).join(', ')}.` +
        `${runs.some((r) => !r.ok) ? ` Failures: ${runs.map((r, i) => (r.ok ? '' : `${threadCounts[i]} thread(s): ${r.reason}`)).filter(Boolean).join('; ')}.` : ''}`,
      '',
    ];
  }

  function tinySection(runs: ChildOutcome<TaskResult>[]): string[] {
    return [
      '## Tiny SD 1.x UNet (parity fixture `unet-tiny-sd1`), latents [2, 16, 16, 4], context [2, 77, 32]',
      '',
      '| backend | threads | ms | wasm heap (MiB) |',
      '|---|---:|---:|---:|',
      ...runs.map((r) => (r.ok
        ? `| ${r.result.backend} | ${r.result.threads ?? 1} | ${fmtMs(r.result.forwards[0]?.medianMs)} | ${r.result.backend === 'wasm' ? mib(r.result.heapBytes) : '—'} |`
        : `| — | — | failed: ${r.reason} | |`)),
      '',
    ];
  }
}

await main();
