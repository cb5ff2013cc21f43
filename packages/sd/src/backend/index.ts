// Backends: selection by name, wasm threads in Node, and the wasm kernels training needs.
export { useBackend, BACKEND_NAMES } from './use-backend';
export type { BackendName, BackendInfo, UseBackendOptions } from './use-backend';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './register-training-kernels';
export { MAX_WASM_THREADS } from './wasm-threads';
