/**
 * `pnpm bench:train`: ms per training step (forward + backward + AdamW) on tfjs-wasm (1 thread and all threads) and
 * tfjs-cpu (one step), side by side with the same networks in PyTorch at equal threads, and the peak wasm heap of a
 * world-UNet step at 32×32 latents, batch 32. Writes docs/benchmarks/training.md.
 *
 *   npx tsx bench/train-step.ts [--threads N] [--warmup 2] [--steps 10] [--no-cpu] [--no-torch]
 *     [--out docs/benchmarks/training.md] [--smoke]
 *
 * Cases (`train-task.ts`; PyTorch: `benchmarks/pytorch/train_step.py`, same shapes, AdamW lr 1e-3 wd 0.01):
 *   (a) the world's UNet, all 1.69M parameters, batch 32, latents 12×12×12, context 16×64;
 *   (b) the world's text encoder, all 0.15M parameters (vocabulary 704), batch 32, 16 tokens;
 *   (c) rank-1 LoRA on `attn2.to_k`/`to_v` of the frozen tiny SD 1.x UNet fixture, batch 16, latents 16×16×4,
 *       context 77×32.
 * Each tfjs measurement runs in its own process (the heap is per process and only grows). The all-threads wasm run
 * also profiles one extra step per kernel (`tf.profile`), which is where the "where the time goes" tables come from.
 * The tfjs-cpu step runs at a reduced batch (`--cpu-batch`; default 1 for the UNets, 8 for the text encoder).
 * Budget: about 5–8 min on 2 idle cores (`--no-cpu` skips the tfjs-cpu steps).
 * `--smoke`: warm-up 1, 2 steps — checks the harness only.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optionFlag, optionNumber, optionString } from './lib/args';
import { runChild, type ChildOutcome } from './lib/child';
import { tinyUNetDir, WORLD_TEXT_ENCODER, WORLD_UNET } from './lib/configs';
import { writeFragment } from './lib/fragment';
import { describeMachine } from './lib/machine';
import { findTorchPython, runTorch, type TorchResult } from './lib/pytorch';
import { trainingMarkdown, type CaseRuns, type CaseSpec } from './lib/training-report';
import type { TrainResult } from './train-task';

const TASK = fileURLToPath(new URL('./train-task.ts', import.meta.url));
const smoke = optionFlag('smoke');
const allThreads = optionNumber('threads', os.availableParallelism());
const warmup = optionNumber('warmup', smoke ? 1 : 2);
const steps = optionNumber('steps', smoke ? 2 : 10);
const threadCounts = allThreads > 1 ? [1, allThreads] : [1];
/**
 * Batch of the one tfjs-cpu step: `--cpu-batch`, else 1 for the UNet cases and 8 for the text encoder. tfjs-cpu's
 * `Conv2DBackpropFilter` is a scalar loop (~10 MFLOP/s, ~3/4 of a world-UNet step at batch 1: ~7 s); a batch-2 step
 * measured 40× longer, a batch-32 one would take far too long for a benchmark.
 */
const cpuBatchOption = optionString('cpu-batch');
const cpuBatchFor = (kind: string): number => (cpuBatchOption !== undefined ? Number(cpuBatchOption) : kind === 'world-clip' ? 8 : 1);
const MINUTES = 60_000;

function writeConfig(name: string, config: Readonly<Record<string, unknown>>): string {
  const path = join(os.tmpdir(), `erase-bench-${process.pid}-${name}.json`);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const started = performance.now();
  const torch = optionFlag('no-torch') ? { reason: 'skipped (--no-torch)' } : findTorchPython();
  if ('reason' in torch) process.stderr.write(`[bench] PyTorch comparison skipped: ${torch.reason}\n`);
  const tinyDir = tinyUNetDir();
  const specs: CaseSpec[] = [
    { case: 'world-unet', title: '(a) world UNet, full training', input: 'batch 32, latents 12×12×12, context 16×64', batch: 32, size: 12, tokens: 16, config: writeConfig('unet', WORLD_UNET) },
    { case: 'world-clip', title: '(b) world text encoder, full training', input: 'batch 32, 16 tokens', batch: 32, size: 0, tokens: 16, config: writeConfig('clip', WORLD_TEXT_ENCODER) },
    ...(tinyDir === undefined
      ? []
      : [{ case: 'lora', title: '(c) LoRA r=1 on attn2.to_k/to_v, tiny SD UNet', input: 'batch 16, latents 16×16×4, context 77×32', batch: 16, size: 16, tokens: 77, config: join(tinyDir, 'config.json') } as const]),
  ];

  const tfjsArgs = (spec: CaseSpec) => ['--case', spec.case, '--batch', String(spec.batch), ...(spec.size > 0 ? ['--size', String(spec.size)] : [])];
  const runs: CaseRuns[] = [];
  for (const spec of specs) {
    const wasm = threadCounts.map((threads) => ({
      threads,
      outcome: runChild<TrainResult>(
        TASK,
        [...tfjsArgs(spec), '--backend', 'wasm', '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), ...(threads === allThreads ? ['--profile'] : [])],
        10 * MINUTES,
        `${spec.case}, wasm, ${threads} thread(s)`,
      ),
    }));
    const cpuStep = optionFlag('no-cpu')
      ? undefined
      : runChild<TrainResult>(
          TASK,
          [...tfjsArgs(spec), '--batch', String(cpuBatchFor(spec.case)), '--backend', 'cpu', '--warmup', '0', '--steps', '1', '--forwards', '0'],
          15 * MINUTES,
          `${spec.case}, cpu, 1 step`,
        );
    const pytorch = threadCounts.map((threads) => {
      if ('reason' in torch) return { threads, reason: torch.reason } as { threads: number; result?: TorchResult; reason?: string };
      const args = ['--case', spec.case, '--config', spec.config, '--batch', String(spec.batch), '--tokens', String(spec.tokens), '--warmup', String(warmup), '--steps', String(steps), ...(spec.size > 0 ? ['--size', String(spec.size)] : [])];
      return { threads, ...runTorch(torch.python, args, threads, 10 * MINUTES) };
    });
    const cpu = cpuStep === undefined ? undefined : { batch: cpuBatchFor(spec.case), outcome: cpuStep };
    runs.push({ spec, wasm, cpu, pytorch });
  }

  const big: ChildOutcome<TrainResult> = runChild<TrainResult>(
    TASK,
    ['--case', 'world-unet', '--batch', '32', '--size', '32', '--backend', 'wasm', '--threads', '1', '--warmup', '0', '--steps', '2', '--forwards', '1'],
    15 * MINUTES,
    'world UNet at 32×32, batch 32, wasm heap',
  );

  const markdown = trainingMarkdown({
    machine,
    loadAtEnd: os.loadavg(),
    smoke,
    command: `npx tsx bench/train-step.ts ${process.argv.slice(2).join(' ')}`.trim(),
    minutes: (performance.now() - started) / MINUTES,
    warmup,
    steps,
    threadCounts,
    torch: 'reason' in torch ? { reason: torch.reason } : { version: torch.version, python: torch.python },
    runs,
    big,
    skippedLora: tinyDir === undefined,
  });
  const path = writeFragment(optionString('out') ?? 'training.md', markdown);
  process.stderr.write(`[bench] wrote ${path}\n`);
  console.log(markdown);
}

await main();
