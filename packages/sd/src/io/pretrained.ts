/**
 * What every `fromPretrained(dir, options)` shares: pick the tfjs backend (by name, optional), then read a diffusers
 * component folder — `config.json` plus single, `.fp16`-variant or sharded safetensors weights.
 */
import { useBackend, type BackendName } from '../backend/use-backend';
import { loadComponent, type LoadedComponent } from './diffusers-folder';

/** Options every `fromPretrained` accepts. */
export interface PretrainedOptions {
  /** Weight variant, as diffusers' `variant` (e.g. 'fp16'; weights are upcast to float32). */
  readonly variant?: string;
  /** Make this tfjs backend active before the weights are uploaded (see `useBackend`). Default: leave as is. */
  readonly backend?: BackendName;
  /** wasm threads, with `backend: 'wasm'`. */
  readonly threads?: number;
}

/**
 * Selects the backend (when asked) and loads the component folder.
 * @throws InvalidOptionError / BackendUnavailableError from `useBackend`; FileFormatError / UnsupportedError from
 *   `loadComponent` (missing folder or weights, pickle-only folders)
 */
export async function loadPretrainedComponent(
  dir: string,
  options: PretrainedOptions = {},
  checkConfig?: (config: Record<string, unknown>) => void,
): Promise<LoadedComponent> {
  if (options.backend !== undefined) await useBackend(options.backend, { threads: options.threads });
  return loadComponent(dir, { variant: options.variant, ...(checkConfig ? { checkConfig } : {}) });
}
