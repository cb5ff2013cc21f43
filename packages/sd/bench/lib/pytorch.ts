/**
 * Runs the PyTorch side-by-side script (`benchmarks/pytorch/train_step.py`) in a child process with its thread count
 * fixed through the environment (OMP/OpenBLAS/MKL read it when torch loads), and reads its JSON result.
 * The interpreter is `ERASE_PYTHON`, else the first of `/usr/bin/python3` (Debian's `python3-torch`) and `python3`
 * that can `import torch`; none → the comparison is skipped with a notice.
 */
import { spawnSync } from 'node:child_process';
import { PYTORCH_SCRIPT } from './configs';

/** What train_step.py prints. */
export interface TorchResult {
  readonly case: string;
  readonly torch: string;
  readonly blas: string;
  readonly threads: number;
  readonly params: number;
  readonly trainableParams: number;
  readonly keysDigest: string;
  readonly stepMs: number[];
  readonly medianStepMs: number;
  readonly forwardMs: number;
  readonly backwardMs: number;
  readonly optimizerMs: number;
}

/** A Python that imports torch, or why there is none. */
export function findTorchPython(): { python: string; version: string } | { reason: string } {
  const candidates = [process.env.ERASE_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
  }
  return { reason: `no Python with torch found (tried ${candidates.join(', ')}); on Debian: apt-get install -y python3-torch libopenblas0-pthread` };
}

/** Runs one case; undefined result with a reason on failure. */
export function runTorch(python: string, args: readonly string[], threads: number, timeoutMs: number): { result?: TorchResult; reason?: string } {
  process.stderr.write(`[bench] PyTorch, ${threads} thread(s): ${args.join(' ')} …\n`);
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const run = spawnSync(python, [PYTORCH_SCRIPT, ...args, '--threads', String(threads)], { encoding: 'utf8', env, timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 });
  const last = (run.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (run.status === 0 && last !== undefined) return { result: JSON.parse(last) as TorchResult };
  const tail = (run.stderr ?? '').trim().split('\n').slice(-2).join(' / ');
  return { reason: `train_step.py ${run.signal !== null ? `killed by ${run.signal}` : `exited with ${run.status}`}: ${tail}` };
}
