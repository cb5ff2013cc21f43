/**
 * Typed progress events and the options every long-running call accepts.
 */

/** One progress report from a long operation. `step` counts from 1 to `total`. */
export interface ProgressEvent {
  /** The operation, e.g. `"realera.lora"`, `"pipeline.denoise"`, `"train.unet"`. */
  readonly stage: string;
  /** Steps done so far (1-based after the first step finishes). */
  readonly step: number;
  /** Total steps of this stage. */
  readonly total: number;
  /** Scalar metrics of the last step (loss, learning rate, acceptance rate, …). */
  readonly metrics?: Readonly<Record<string, number>>;
  /** A short human-readable note. */
  readonly message?: string;
}

/** Receives progress events. Must not throw. */
export type ProgressListener = (event: ProgressEvent) => void;

/** Options shared by every long call: a progress listener and an abort signal. */
export interface LongRunningOptions {
  readonly onProgress?: ProgressListener;
  readonly signal?: AbortSignal;
}

/** Calls the listener when present, swallowing nothing: a throwing listener is a caller bug. */
export function reportProgress(listener: ProgressListener | undefined, event: ProgressEvent): void {
  if (listener) listener(event);
}
