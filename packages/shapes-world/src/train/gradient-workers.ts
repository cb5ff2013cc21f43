/**
 * Data-parallel helpers for `trainShapesWorld`: S − 1 worker threads, each with its own tfjs backend (one wasm
 * thread) and a copy of the models, compute the gradients of shards 1 … S − 1 of every batch while the calling
 * thread computes shard 0 (shard-gradients.ts). The caller combines them, takes the optimizer step and broadcasts
 * the updated trained weights; workers never update weights themselves, so every copy stays equal to the caller's.
 *
 * Why threads and not wasm's own threads: XNNPACK's threads split single kernels, and this world's kernels are too
 * small for that to pay (2 wasm threads measured no faster than 1 per step); two shards of 16 images on two cores
 * run side by side at ~0.52 s each against ~0.82 s for the 32-image batch on one.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StepBatch } from './shard-gradients';

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  /** tfjs backend name of the calling thread (the worker uses the same, with one wasm thread). */
  readonly backend: string;
  readonly textEncoderConfig: Readonly<Record<string, unknown>>;
  readonly unetConfig: Readonly<Record<string, unknown>>;
  /** Every weight, `text_encoder/<name>` / `unet/<name>`. */
  readonly params: readonly { readonly name: string; readonly data: Float32Array }[];
  /** Names of the trained weights, in the order of every gradient and broadcast vector. */
  readonly trained: readonly string[];
  readonly frozenText: boolean;
}

/** Messages to a worker. */
export type ToWorker = { readonly kind: 'step'; readonly id: number; readonly batch: StepBatch } | { readonly kind: 'params'; readonly values: Float32Array };

/** Messages from a worker. */
export type FromWorker =
  | { readonly kind: 'ready' }
  | { readonly kind: 'grads'; readonly id: number; readonly loss: number; readonly grads: Float32Array }
  | { readonly kind: 'error'; readonly message: string };

/** One shard's result: L_s and ∇L_s (trained weights end to end, `WorkerInit.trained` order). */
export interface ShardResult {
  readonly loss: number;
  readonly grads: Float32Array;
}

interface Pending {
  resolve(message: FromWorker): void;
  reject(error: Error): void;
}

/** Thrown when a gradient worker fails to start or dies. */
export class GradientWorkerError extends Error {
  override readonly name = 'GradientWorkerError';
}

/**
 * The worker script: the built `gradient-worker.js` next to the bundle, or — when this file runs from TypeScript
 * sources (tests, `tsx` scripts) — `gradient-worker.ts` loaded through tsx's loader inside the worker.
 */
function spawn(init: WorkerInit): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  if (!fromSources) return new Worker(new URL('./gradient-worker.js', import.meta.url), { workerData: init });
  // tsx's `./esm/api` export for `import` (createRequire would resolve its CommonJS twin, whose loader path fails)
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  const script = new URL('./gradient-worker.ts', import.meta.url).href;
  const source = `import(${JSON.stringify(tsxApi)}).then((m) => { (m.register ?? m.default.register)(); return import(${JSON.stringify(script)}); })`;
  return new Worker(source, { eval: true, workerData: init });
}

export class GradientWorkers {
  private readonly pending: (Pending | undefined)[];
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(private readonly workers: Worker[]) {
    this.pending = workers.map(() => undefined);
    workers.forEach((worker, i) => {
      worker.on('message', (message: FromWorker) => this.settle(i, message));
      worker.on('error', (error) => this.fail(new GradientWorkerError(`gradient worker ${i + 1}: ${error.message}`)));
      worker.on('exit', (code) => this.fail(new GradientWorkerError(`gradient worker ${i + 1} exited (code ${code})`)));
    });
  }

  /**
   * Starts `count` workers and waits until each holds the models.
   * @throws GradientWorkerError when one fails to start
   */
  static async start(count: number, init: WorkerInit): Promise<GradientWorkers> {
    const pool = new GradientWorkers(Array.from({ length: count }, () => spawn(init)));
    try {
      await Promise.all(pool.workers.map((_, i) => pool.expect(i)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.workers.length;
  }

  /** Sends shard i + 1 to worker i and resolves with every worker's result, in order. */
  async compute(shards: readonly StepBatch[]): Promise<ShardResult[]> {
    if (shards.length !== this.workers.length) throw new GradientWorkerError(`${shards.length} shards for ${this.workers.length} workers`);
    const id = this.nextId++;
    const replies = shards.map((batch, i) => {
      const reply = this.expect(i);
      const transfer = [batch.images.buffer, batch.ids.buffer, batch.noise.buffer] as ArrayBuffer[];
      this.workers[i]?.postMessage({ kind: 'step', id, batch } satisfies ToWorker, transfer);
      return reply;
    });
    const messages = await Promise.all(replies);
    return messages.map((m) => {
      if (m.kind !== 'grads' || m.id !== id) throw new GradientWorkerError(`unexpected reply ${m.kind} from a gradient worker`);
      return { loss: m.loss, grads: m.grads };
    });
  }

  /** Sends every worker the trained weights after an optimizer step (`WorkerInit.trained` order, end to end). */
  broadcast(values: Float32Array): void {
    if (this.failure) throw this.failure;
    this.workers.forEach((worker, i) => {
      const copy = i === this.workers.length - 1 ? values : values.slice();
      worker.postMessage({ kind: 'params', values: copy } satisfies ToWorker, [copy.buffer as ArrayBuffer]);
    });
  }

  /** Stops every worker (idempotent). */
  async close(): Promise<void> {
    this.failure ??= new GradientWorkerError('the gradient workers were closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private expect(i: number): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending[i] = { resolve, reject };
    });
  }

  private settle(i: number, message: FromWorker): void {
    const waiting = this.pending[i];
    this.pending[i] = undefined;
    if (message.kind === 'error') {
      this.fail(new GradientWorkerError(`gradient worker ${i + 1}: ${message.message}`));
      waiting?.reject(this.failure as Error);
      return;
    }
    waiting?.resolve(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (let i = 0; i < this.pending.length; i++) {
      this.pending[i]?.reject(error);
      this.pending[i] = undefined;
    }
  }
}
