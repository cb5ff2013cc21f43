/**
 * Resumable training checkpoints: `checkpoint-<step>.safetensors` (parameters, EMA weights and both Adam moments, in
 * tfjs layouts, under `params/…`, `ema/…`, `adam_m/…`, `adam_v/…`) and `checkpoint.json` (step, seed, settings,
 * Adam's step count, the loss curve so far, and the name of its tensors file). The new tensors file is written
 * first, under its own name, then the JSON is renamed over the old one — the single commit point — and only then is
 * the previous tensors file removed: a kill at any moment leaves one complete checkpoint (the old or the new).
 * Loading also refuses a pair whose steps differ. Node only.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError } from '@erase/core';
import { readJsonConfig, readSafetensors, writeSafetensors, type HostTensor, type TensorToWrite } from '@erase/sd';
import { writeJsonFileAtomic as writeJsonAtomic } from '@erase/core';

/** `format` field of checkpoint.json. */
export const CHECKPOINT_FORMAT = 'shapes-world-training-checkpoint';
/** Version of the checkpoint layout. */
export const CHECKPOINT_VERSION = 1;

/** The host-side state of a checkpoint (checkpoint.json). */
export interface CheckpointState {
  /** Optimisation steps completed. */
  readonly step: number;
  /** AdamW's own step count (bias corrections). */
  readonly adamStep: number;
  /** The resolved training settings (JSON-serialisable). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Mean loss per completed window (`{ step, loss }`, step = the window's last step). */
  readonly lossCurve: readonly { readonly step: number; readonly loss: number }[];
  /** Sum and count of the losses of the current, unfinished window. */
  readonly window: { readonly sum: number; readonly count: number };
  /** Training seconds spent before this checkpoint (all sessions). */
  readonly seconds: number;
}

/** The tensor groups of a checkpoint, each keyed `text_encoder/<name>` or `unet/<name>`. */
export interface CheckpointTensors {
  readonly params: ReadonlyMap<string, tf.Tensor>;
  readonly ema: ReadonlyMap<string, tf.Tensor>;
  readonly adamM: ReadonlyMap<string, tf.Tensor>;
  readonly adamV: ReadonlyMap<string, tf.Tensor>;
}

const GROUPS = [['params', 'params'], ['ema', 'ema'], ['adamM', 'adam_m'], ['adamV', 'adam_v']] as const;

/**
 * The two files of a checkpoint folder: `state` is checkpoint.json; `tensors` the file it names (checkpoints written
 * before the name was recorded: checkpoint.safetensors), or, with `step`, the file a save of that step writes.
 */
export function checkpointPaths(dir: string, step?: number): { tensors: string; state: string } {
  const state = join(dir, 'checkpoint.json');
  if (step !== undefined) return { tensors: join(dir, `checkpoint-${step}.safetensors`), state };
  let name = 'checkpoint.safetensors';
  if (existsSync(state)) {
    const recorded = readJsonConfig(state).tensors;
    if (typeof recorded === 'string' && /^checkpoint-\d+\.safetensors$/.test(recorded)) name = recorded;
  }
  return { tensors: join(dir, name), state };
}

/**
 * Writes a checkpoint into `dir` (created when missing), replacing the previous one atomically file by file.
 * Reads every tensor to the host; allocates no tfjs tensors.
 * @throws FileFormatError when a file cannot be written
 */
export async function saveCheckpoint(dir: string, tensors: CheckpointTensors, state: CheckpointState): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const paths = checkpointPaths(dir, state.step);
  const out = new Map<string, TensorToWrite>();
  for (const [group, prefix] of GROUPS) {
    for (const [name, t] of tensors[group]) {
      out.set(`${prefix}/${name}`, { dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array });
    }
  }
  writeSafetensors(paths.tensors, out, { format: CHECKPOINT_FORMAT, step: String(state.step) });
  const name = basename(paths.tensors);
  writeJsonAtomic(paths.state, { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, tensors: name, ...state }); // the commit point
  // the previous checkpoint's tensors are no longer named by checkpoint.json
  for (const old of readdirSync(dir)) {
    if (old !== name && /^checkpoint(-\d+)?\.safetensors$/.test(old)) rmSync(join(dir, old), { force: true });
  }
}

/** A checkpoint read back: its state and its tensors by group (host arrays, tfjs layouts). */
export interface LoadedCheckpoint {
  readonly state: CheckpointState;
  readonly params: ReadonlyMap<string, HostTensor>;
  readonly ema: ReadonlyMap<string, HostTensor>;
  readonly adamM: ReadonlyMap<string, HostTensor>;
  readonly adamV: ReadonlyMap<string, HostTensor>;
}

/**
 * Reads the checkpoint in `dir`.
 * @throws FileFormatError naming the file when one is missing, malformed, or the two files disagree on the step
 */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const paths = checkpointPaths(dir);
  for (const file of [paths.state, paths.tensors]) {
    if (!existsSync(file)) throw new FileFormatError({ file, expected: 'a training checkpoint file', problem: 'does not exist' });
  }
  const raw = readJsonConfig(paths.state);
  if (raw.format !== CHECKPOINT_FORMAT || raw.version !== CHECKPOINT_VERSION) {
    throw new FileFormatError({ file: paths.state, expected: `format "${CHECKPOINT_FORMAT}" version ${CHECKPOINT_VERSION}`, problem: `has format ${JSON.stringify(raw.format)} version ${JSON.stringify(raw.version)}` });
  }
  const step = raw.step;
  const adamStep = raw.adamStep;
  if (!Number.isSafeInteger(step) || (step as number) < 0 || !Number.isSafeInteger(adamStep)) {
    throw new FileFormatError({ file: paths.state, expected: 'integer "step" and "adamStep"', problem: `has ${JSON.stringify(step)} / ${JSON.stringify(adamStep)}` });
  }
  const settings = raw.settings;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new FileFormatError({ file: paths.state, expected: 'a "settings" object', problem: `has ${JSON.stringify(settings)}` });
  }
  const file = readSafetensors(paths.tensors);
  if (file.metadata.step !== String(step)) {
    throw new FileFormatError({ file: paths.tensors, expected: `the tensors of step ${String(step)} (checkpoint.json)`, problem: `holds step ${String(file.metadata.step)} (an interrupted save?)` });
  }
  const groups = { params: new Map<string, HostTensor>(), ema: new Map<string, HostTensor>(), adamM: new Map<string, HostTensor>(), adamV: new Map<string, HostTensor>() };
  for (const [name, host] of file.tensors) {
    const slash = name.indexOf('/');
    const entry = GROUPS.find(([, prefix]) => prefix === name.slice(0, slash));
    if (slash < 0 || entry === undefined) throw new FileFormatError({ file: paths.tensors, expected: 'tensors named params/…, ema/…, adam_m/… or adam_v/…', problem: `holds "${name}"` });
    groups[entry[0]].set(name.slice(slash + 1), host);
  }
  const window = (raw.window ?? { sum: 0, count: 0 }) as { sum: number; count: number };
  return {
    state: {
      step: step as number,
      adamStep: adamStep as number,
      settings: settings as Record<string, unknown>,
      lossCurve: Array.isArray(raw.lossCurve) ? (raw.lossCurve as { step: number; loss: number }[]) : [],
      window,
      seconds: typeof raw.seconds === 'number' ? raw.seconds : 0,
    },
    ...groups,
  };
}
