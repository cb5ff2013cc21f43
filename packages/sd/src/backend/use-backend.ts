/**
 * Backend selection by name.
 *
 * `cpu` and `wasm` are dependencies of this package. `webgpu` (`@tensorflow/tfjs-backend-webgpu`), `tensorflow`
 * (`@tensorflow/tfjs-node`) and `tensorflow-gpu` (`@tensorflow/tfjs-node-gpu`) are optional peers, imported on
 * demand with a variable specifier so that neither TypeScript nor bundlers require them.
 *
 * tfjs-cpu's Node banner ("Hi, looks like you are running TensorFlow.js in Node.js. To speed things up
 * dramatically, install our node backend…") is printed once per cpu backend instance, on its first tensor write,
 * through tfjs's logger, which is silent while the `PROD` flag is set. `useBackend('cpu')` therefore sets `PROD`,
 * writes (and disposes) one scalar so that the banner fires into the silent logger, and restores `PROD`: nothing
 * else is silenced, no console method is replaced, and tfjs is not patched. (`IS_NODE=false` would also hide it but
 * changes how tfjs reads files and detects threads; `PROD=true` for good would hide every other tfjs warning.)
 * The banner's advice is sound for inference: `useBackend('tensorflow')` is the backend it means.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BackendUnavailableError, InvalidOptionError } from '@erase/core';
import { MAX_WASM_THREADS, startWasmBackend } from './wasm-threads';

/** Backend names `useBackend` accepts. */
export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow' | 'tensorflow-gpu';

/** Every accepted backend name, in the order the error message lists them. */
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgpu', 'tensorflow', 'tensorflow-gpu'];

/** Options of `useBackend`. */
export interface UseBackendOptions {
  /**
   * wasm only: XNNPACK threads (a positive integer; default: every core, `os.availableParallelism()` in Node,
   * `navigator.hardwareConcurrency` in browsers). tfjs caps it at 8. Ignored (with a warning) by other backends.
   */
  threads?: number;
  /** Where explanations go (threads fallback, ignored options). Default `console.warn`. */
  warn?: (message: string) => void;
}

/** The backend now active. */
export interface BackendInfo {
  /** The name asked for. */
  readonly name: BackendName;
  /** The name registered in tfjs (`tensorflow` for both Node backends). */
  readonly tfjsName: string;
  /** Threads in use: XNNPACK's pool on wasm, 1 on cpu, `null` where the backend manages its own. */
  readonly threads: number | null;
  /** Whether wasm runs its SIMD build; `false` on cpu, `null` where not applicable. */
  readonly simd: boolean | null;
}

interface PeerBackend {
  readonly packageName: string;
  readonly tfjsName: string;
}

const PEERS: Readonly<Record<'webgpu' | 'tensorflow' | 'tensorflow-gpu', PeerBackend>> = {
  webgpu: { packageName: '@tensorflow/tfjs-backend-webgpu', tfjsName: 'webgpu' },
  tensorflow: { packageName: '@tensorflow/tfjs-node', tfjsName: 'tensorflow' },
  'tensorflow-gpu': { packageName: '@tensorflow/tfjs-node-gpu', tfjsName: 'tensorflow' },
};

/**
 * Makes `name` the active tfjs backend, initializing it first, and returns what runs.
 *
 * - `wasm`: also registers the training kernels (`registerWasmTrainingKernels`); in Node starts tfjs's
 *   threaded SIMD build with `threads` threads, falling back to one thread with an explanation through `warn`
 *   (never a crash). Re-calling with another thread count rebuilds the backend only while no tensor lives on it.
 * - `webgpu`, `tensorflow`, `tensorflow-gpu`: loads the optional peer package first.
 * Tensors made on another backend stay valid (tfjs moves their data on first use).
 * @throws InvalidOptionError for an unknown `name` (listing the valid ones) or a `threads` that is not a
 *   positive integer
 * @throws BackendUnavailableError when the peer package is missing (naming it), fails to load, or the backend
 *   cannot start (e.g. no `navigator.gpu` for webgpu)
 */
export async function useBackend(name: BackendName, options: UseBackendOptions = {}): Promise<BackendInfo> {
  if (typeof name !== 'string' || !(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new InvalidOptionError({
      option: 'name',
      expected: `one of ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')}`,
      received: name,
    });
  }
  const { threads } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new InvalidOptionError({ option: 'threads', expected: 'a positive integer', received: threads });
  }
  const warn = options.warn ?? ((message: string) => console.warn(message));
  if (threads !== undefined && name !== 'wasm') {
    warn(`useBackend('${name}'): the \`threads\` option applies to wasm only and is ignored.`);
  }
  switch (name) {
    case 'cpu':
      return useCpu();
    case 'wasm':
      return useWasm(threads, warn);
    default:
      return usePeer(name, PEERS[name]);
  }
}

async function useCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend('cpu'))) {
    throw new BackendUnavailableError({ backend: 'cpu', reason: 'tf.setBackend("cpu") failed.' });
  }
  consumeNodeBanner();
  return { name: 'cpu', tfjsName: 'cpu', threads: 1, simd: false };
}

/** Lets tfjs-cpu print its once-per-instance Node banner into the silent (`PROD`) logger. */
function consumeNodeBanner(): void {
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    tf.dispose(tf.scalar(0));
  } finally {
    env.set('PROD', prod);
  }
}

async function useWasm(threads: number | undefined, warn: (message: string) => void): Promise<BackendInfo> {
  const all = await defaultThreads();
  const wanted = threads ?? all;
  if (threads !== undefined && threads > MAX_WASM_THREADS) {
    warn(`useBackend('wasm'): tfjs 4.22's wasm build runs at most ${MAX_WASM_THREADS} threads; using ${MAX_WASM_THREADS}.`);
  }
  try {
    const started = await startWasmBackend({ threads: wanted, warn });
    return { name: 'wasm', tfjsName: 'wasm', threads: started.threads, simd: started.simd };
  } catch (error) {
    throw new BackendUnavailableError({
      backend: 'wasm',
      reason: `it failed to start: ${describeError(error)}.`,
      cause: error,
    });
  }
}

async function defaultThreads(): Promise<number> {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (typeof p?.versions?.node === 'string') {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length || 1;
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

/**
 * Which package registered each tfjs backend name ('tensorflow' is shared by two peers): imported here, or, for one
 * registered by an import elsewhere, the one Node's loader shows (`nodePackagesLoaded`).
 */
const importedPeers = new Map<string, string>();

async function usePeer(name: Exclude<BackendName, 'cpu' | 'wasm'>, peer: PeerBackend): Promise<BackendInfo> {
  const noWebGpu = (): BackendUnavailableError =>
    new BackendUnavailableError({
      backend: name,
      reason:
        'this runtime has no WebGPU (`navigator.gpu` is undefined). In Node, provide one before the first ' +
        "useBackend('webgpu'), e.g. with the `webgpu` package: `Object.assign(globalThis, globals); globalThis.navigator = { gpu: create([]) }`.",
    });
  const hasGpu = (): boolean => (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined;
  if (peer.tfjsName === 'tensorflow' && !importedPeers.has('tensorflow') && tf.findBackendFactory('tensorflow') !== null) {
    // registered by an import outside this module: which of the two Node packages did it come from?
    const loaded = await nodePackagesLoaded([PEERS.tensorflow.packageName, PEERS['tensorflow-gpu'].packageName]);
    if (loaded.length === 1) importedPeers.set('tensorflow', loaded[0] as string);
  }
  const other = importedPeers.get(peer.tfjsName);
  if (other !== undefined && other !== peer.packageName) {
    throw new BackendUnavailableError({
      backend: name,
      packageName: peer.packageName,
      reason: `tfjs's '${peer.tfjsName}' backend is already provided by ${other} in this process, and one process can hold only one of @tensorflow/tfjs-node and @tensorflow/tfjs-node-gpu.`,
    });
  }
  if (tf.findBackendFactory(peer.tfjsName) === null) {
    try {
      const specifier: string = peer.packageName;
      await import(/* @vite-ignore */ specifier);
    } catch (error) {
      const missing = isModuleNotFound(error, peer.packageName);
      throw new BackendUnavailableError({
        backend: name,
        packageName: peer.packageName,
        reason: missing
          ? `its package ${peer.packageName} is not installed (it is an optional peer dependency of @erase/sd).`
          : `its package ${peer.packageName} failed to load: ${describeError(error)}.`,
        cause: error,
      });
    }
    if (tf.findBackendFactory(peer.tfjsName) === null) {
      // the package loaded but registered nothing: tfjs-backend-webgpu registers only if navigator.gpu exists when
      // it is first imported
      if (name === 'webgpu' && !hasGpu()) throw noWebGpu();
      throw new BackendUnavailableError({
        backend: name,
        packageName: peer.packageName,
        reason: `${peer.packageName} loaded but registered no '${peer.tfjsName}' backend${name === 'webgpu' ? ' (it registers only if navigator.gpu exists when it is first imported: set navigator.gpu before any import of it)' : ''}.`,
      });
    }
    importedPeers.set(peer.tfjsName, peer.packageName);
  }
  if (name === 'webgpu' && !hasGpu()) throw noWebGpu();
  if (!(await tf.setBackend(peer.tfjsName))) {
    throw new BackendUnavailableError({
      backend: name,
      reason: `tfjs could not initialize its '${peer.tfjsName}' backend (see the warning tfjs logged above).`,
    });
  }
  return { name, tfjsName: peer.tfjsName, threads: null, simd: null };
}

/**
 * Which of `packageNames` Node's CommonJS loader has loaded in this process (tfjs-node and tfjs-node-gpu are CommonJS,
 * so an `import` of either lands in `require.cache` too); empty outside Node or when it cannot be told.
 */
async function nodePackagesLoaded(packageNames: readonly string[]): Promise<string[]> {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (typeof p?.versions?.node !== 'string') return [];
  try {
    const { createRequire } = await import('node:module');
    const paths = Object.keys(createRequire(import.meta.url).cache).map((path) => path.split('\\').join('/'));
    return packageNames.filter((name) => paths.some((path) => path.includes(`/node_modules/${name}/`)));
  } catch {
    return [];
  }
}

/** True when `error` says `packageName` itself (not one of its dependencies) could not be found. */
function isModuleNotFound(error: unknown, packageName: string): boolean {
  const message = error instanceof Error ? error.message : String(error);
  // Node: "Cannot find package 'x' imported from …"; Vite/vitest: 'Could not resolve "x" imported by …'.
  const quoted = /Cannot find (?:package|module) '([^']+)'|Could not resolve "([^"]+)"/.exec(message)?.slice(1).find(Boolean);
  if (quoted !== undefined) return quoted === packageName || quoted.startsWith(`${packageName}/`);
  return /Failed to (?:resolve|load url)/i.test(message) && message.includes(packageName);
}

/** An error's message without its trailing period (the caller adds one). */
function describeError(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
}
