/**
 * Starts tfjs's wasm backend, with XNNPACK threads in Node.
 *
 * Why tfjs 4.22 runs one thread in Node, and what this module does about each cause (public API + process-global
 * hooks that are installed only while the backend initializes and restored in `finally`; tfjs is not patched):
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` evaluates to false when `IS_NODE` (tfjs issue #3830).
 *    → `tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)` for the duration of the start (reset afterwards so a
 *    later plain `tf.setBackend('wasm')` cannot take the threaded path without the hooks below).
 * 2. tfjs hands Emscripten its pthread worker script as a `blob:` URL (`URL.createObjectURL`), which Node's
 *    `worker_threads.Worker` refuses. → While the backend starts, `URL.createObjectURL` returns, for that one Blob
 *    (type `application/javascript`, the worker script's exact size), a `data:` URL *object* of a small ES-module
 *    bootstrap; `new Worker(url)` accepts a `data:` URL object. The bootstrap defines `require`/`__filename`,
 *    evaluates tfjs's own worker script (`wasmWorkerContents`, exported by the installed
 *    `wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`), and rewrites the `load` message so the worker
 *    imports the installed `wasm-out/tfjs-backend-wasm-threaded-simd.js` file instead of a Blob it cannot read.
 *    A worker that fails to load reports on a `BroadcastChannel` and exits (Emscripten would otherwise rethrow
 *    the worker's error on the main thread and kill the process), so the start falls back instead of crashing.
 * 3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes hyper-threading), and in Node
 *    that is `os.cpus().length / 2`. → While the module starts, `os.cpus()` returns at least 2 × threads entries.
 *    tfjs also caps at 8 (it pre-creates 8 workers).
 * 4. Emscripten `ref()`s a worker while a pthread runs on it, so a Node process with XNNPACK threads never exits
 *    by itself. → The workers are `unref()`ed after the start (they keep working; only the event loop ignores them).
 * The backend instance is built by calling the wasm backend's registered factory ourselves, then registered under
 * 'wasm' with a factory that returns it, so a failed attempt never reaches tfjs's engine (no half-initialized
 * backend, no "Initialization of backend wasm failed" log). On any failure the start falls back to one thread and
 * says why through `warn`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount, version_wasm, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './register-training-kernels';
import { WASM } from './wasm-kernel-utils';

/** tfjs's priority for the wasm backend (kept when we re-register it). */
const WASM_PRIORITY = 2;
/** tfjs 4.22's wasm build pre-creates this many pthread workers, the most XNNPACK can use. */
export const MAX_WASM_THREADS = 8;
const STATE = Symbol.for('@erase/sd.wasm-backend-state');

/** Files of the installed tfjs-backend-wasm that the threaded start hands to the workers. */
export interface ThreadedWasmFiles {
  /** `wasm-out/tfjs-backend-wasm-threaded-simd.js`: the Emscripten module script each worker imports. */
  readonly mainScript: string;
  /** `wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`: exports the worker script as `wasmWorkerContents`. */
  readonly workerModule: string;
}

/** Options of `startWasmBackend`. */
export interface StartWasmOptions {
  /** XNNPACK threads wanted (≥ 1); tfjs caps it at 8. */
  readonly threads: number;
  /** Receives the reason when the threaded start falls back to one thread. */
  readonly warn: (message: string) => void;
  /** Give up on the threaded start after this long (default 60 s). */
  readonly timeoutMs?: number;
  /** Replaces the installed files (tests use it to force a failing start). */
  readonly files?: Partial<ThreadedWasmFiles>;
}

/** What `startWasmBackend` set up. */
export interface WasmStartResult {
  /** Threads XNNPACK uses (`getThreadsCount()`). */
  readonly threads: number;
  /** Whether the SIMD build runs. */
  readonly simd: boolean;
}

interface BackendState {
  originalFactory?: () => tf.KernelBackend | Promise<tf.KernelBackend>;
  threadedFailure?: string;
  chain: Promise<unknown>;
}

function state(): BackendState {
  const g = globalThis as unknown as Record<symbol, BackendState | undefined>;
  g[STATE] ??= { chain: Promise.resolve() };
  return g[STATE];
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * Initializes (or re-initializes) the wasm backend with `threads` XNNPACK threads, registers the training
 * kernels, and makes it the active backend. Calls are serialized. An already initialized wasm backend with a
 * different thread count is rebuilt only while no tensor lives on it; otherwise it is kept and `warn` says so.
 * @returns the thread count actually in use and whether the SIMD build runs
 * @throws Error only when even the single-threaded wasm backend cannot start (e.g. the .wasm files are missing)
 */
export function startWasmBackend(options: StartWasmOptions): Promise<WasmStartResult> {
  const s = state();
  const run = s.chain.then(() => startSerialized(options));
  s.chain = run.catch(() => undefined);
  return run;
}

async function startSerialized(options: StartWasmOptions): Promise<WasmStartResult> {
  registerWasmTrainingKernels();
  const s = state();
  s.originalFactory ??= tf.findBackendFactory(WASM) ?? undefined;
  const factory = s.originalFactory;
  if (factory === undefined) throw new Error('The wasm backend is not registered (is @tensorflow/tfjs-backend-wasm installed?).');
  const wanted = Math.min(options.threads, MAX_WASM_THREADS);
  // Not tf.findBackend: it would start tfjs's own (single-threaded) initialization as a side effect.
  const existing = tf.engine().registry[WASM] as BackendWasm | undefined;
  if (existing !== undefined) {
    const current = getThreadsCount();
    const canTryThreads = isNode() ? s.threadedFailure === undefined : true;
    if (current === wanted || (current === 1 && !canTryThreads)) return activate();
    if (existing.numDataIds() > 0) {
      options.warn(
        `The wasm backend already runs ${current} thread(s) and holds ${existing.numDataIds()} tensor buffer(s); ` +
          `it cannot be restarted with ${wanted} thread(s) until they are disposed. Keeping ${current}.`,
      );
      return activate();
    }
    tf.removeBackend(WASM);
  }

  let backend: BackendWasm | undefined;
  if (!isNode()) {
    setThreadsCount(wanted);
    backend = (await factory()) as BackendWasm;
  } else if (wanted > 1 && s.threadedFailure === undefined) {
    try {
      backend = await startThreadedInNode(factory, wanted, options);
    } catch (error) {
      s.threadedFailure = error instanceof Error ? error.message : String(error);
      options.warn(
        `The wasm backend could not start ${wanted} threads in Node (${s.threadedFailure}); ` +
          'continuing with 1 thread.',
      );
    }
  }
  if (backend === undefined) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setThreadsCount(1);
    backend = (await factory()) as BackendWasm;
  }
  install(backend);
  return activate();
}

/** Registers `backend` as tfjs's 'wasm' backend (replacing the registered factory). */
function install(backend: BackendWasm): void {
  if (tf.findBackendFactory(WASM) !== null) tf.removeBackend(WASM);
  tf.registerBackend(WASM, () => backend, WASM_PRIORITY);
}

/** Makes 'wasm' the active backend and reports what runs. */
async function activate(): Promise<WasmStartResult> {
  if (!(await tf.setBackend(WASM))) throw new Error('tf.setBackend("wasm") failed.');
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  return { threads: getThreadsCount(), simd };
}

/** Paths of the installed tfjs-backend-wasm files the workers need. */
async function installedFiles(): Promise<ThreadedWasmFiles> {
  const { createRequire } = await import('node:module');
  const path = await import('node:path');
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  const out = path.join(dist, '..', 'wasm-out');
  return {
    mainScript: path.join(out, 'tfjs-backend-wasm-threaded-simd.js'),
    workerModule: path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js'),
  };
}

let attempt = 0;

async function startThreadedInNode(
  factory: () => tf.KernelBackend | Promise<tf.KernelBackend>,
  threads: number,
  options: StartWasmOptions,
): Promise<BackendWasm> {
  // Preflight: everything that can be checked without starting workers.
  if (version_wasm !== '4.22.0') {
    throw new Error(`the worker hand-over is written for @tensorflow/tfjs-backend-wasm 4.22.0, found ${version_wasm}`);
  }
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('SharedArrayBuffer is unavailable');
  new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) throw new Error('tfjs ships threads only in its SIMD build');
  const fs = await import('node:fs');
  const os = (await import('node:os')).default;
  const { createRequire } = await import('node:module');
  const files = { ...(await installedFiles()), ...options.files };
  for (const file of [files.mainScript, files.workerModule]) {
    if (!fs.existsSync(file)) throw new Error(`missing file ${file}`);
  }
  const requireFile = createRequire(import.meta.url);
  const contents = (requireFile(files.workerModule) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string') throw new Error(`${files.workerModule} does not export wasmWorkerContents`);
  // tfjs escapes the newlines that the template literal turned into real ones before making its Blob.
  const workerBlobSize = new Blob([contents.replace(/\n/g, '\\n')]).size;

  attempt += 1;
  const channelName = `@erase/sd:wasm-threads:${process.pid}:${attempt}`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const bootstrapUrl = new URL(
    `data:text/javascript,${encodeURIComponent(workerBootstrap(files, channelName, timeoutMs + 5_000))}`,
  );

  const originalCreateObjectURL = URL.createObjectURL;
  const originalCpus = os.cpus;
  const channel = new BroadcastChannel(channelName);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const previousFlag = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) as boolean;
  let started: Promise<tf.KernelBackend> | undefined;
  try {
    URL.createObjectURL = ((object: Blob | MediaSource) =>
      object instanceof Blob && object.type === 'application/javascript' && object.size === workerBlobSize
        ? (bootstrapUrl as unknown as string)
        : originalCreateObjectURL(object)) as typeof URL.createObjectURL;
    os.cpus = () => {
      const cpus = originalCpus();
      const filler = cpus[0] ?? { model: 'unknown', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
      while (cpus.length < 2 * threads) cpus.push(filler);
      return cpus;
    };
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    setThreadsCount(threads);
    const failed = new Promise<never>((_, reject) => {
      channel.onmessage = (event: MessageEvent) => reject(new Error(`a worker failed to load: ${String(event.data)}`));
      timer = setTimeout(() => reject(new Error(`no answer from the workers within ${timeoutMs} ms`)), timeoutMs);
    });
    started = Promise.resolve(factory());
    const backend = (await Promise.race([started, failed])) as BackendWasm;
    unrefWorkers(backend);
    return backend;
  } catch (error) {
    // A start that still completes later must not leave threads running.
    started?.then((late) => late.dispose()).catch(() => undefined);
    throw error;
  } finally {
    URL.createObjectURL = originalCreateObjectURL;
    os.cpus = originalCpus;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', previousFlag);
    if (timer !== undefined) clearTimeout(timer);
    channel.close();
  }
}

/** Lets the process exit while XNNPACK's pthread workers idle (Emscripten `ref()`s busy ones). */
function unrefWorkers(backend: BackendWasm): void {
  const pthread = (backend.wasm as unknown as { PThread?: Record<string, unknown> }).PThread;
  if (pthread === undefined) return;
  const pools = [pthread.runningWorkers, pthread.unusedWorkers, Object.values((pthread.pthreads as object) ?? {})];
  for (const pool of pools) {
    if (!Array.isArray(pool)) continue;
    for (const worker of pool as { unref?: () => void }[]) worker.unref?.();
  }
}

/**
 * The ES-module source each pthread worker starts from (see the file header, point 2). Errors while loading are
 * reported on `channelName` and end the worker; a worker that gets no `load` message within `watchdogMs` ends too.
 */
function workerBootstrap(files: ThreadedWasmFiles, channelName: string, watchdogMs: number): string {
  return `
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
const mainScript = ${JSON.stringify(files.mainScript)};
const fail = (error) => {
  const channel = new BroadcastChannel(${JSON.stringify(channelName)});
  channel.postMessage(String((error && error.message) || error));
  channel.close();
  process.exit(1);
};
const watchdog = setTimeout(() => fail(new Error('no load message')), ${watchdogMs});
globalThis.require = createRequire(mainScript);
globalThis.__filename = mainScript;
let loading = true;
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
const loaded = () => {
  loading = false;
  process.off('uncaughtException', fail);
  process.off('unhandledRejection', fail);
};
parentPort.on('message', (data) => {
  if (data && data.cmd === 'load') {
    clearTimeout(watchdog);
    if (typeof data.urlOrBlob !== 'string') data.urlOrBlob = mainScript;
  }
});
(0, eval)(globalThis.require(${JSON.stringify(files.workerModule)}).wasmWorkerContents.replace(/\\n/g, '\\\\n'));
const onmessage = globalThis.onmessage;
globalThis.onmessage = (event) => {
  try { onmessage(event); } catch (error) { if (loading) fail(error); else throw error; }
};
const postMessage = globalThis.postMessage;
globalThis.postMessage = (message) => {
  if (message && message.cmd === 'loaded') loaded();
  postMessage(message);
};
`;
}
