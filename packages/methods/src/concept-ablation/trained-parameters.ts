/**
 * The UNet parameters Concept Ablation trains: selection by group (official `create_custom_diffusion`), switching
 * their `trainable` flag on for the run, and a snapshot that restores their values after an error or abort.
 *
 * Names are diffusers state-dict names from `NoisePredictor.parameters()`, e.g.
 * `down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedError, type NoisePredictor } from '@erase/core';
import { ParameterSnapshot, setTrainable } from '../shared/parameter-snapshot';
import type { ConceptAblationParameterGroup } from './options';

/** Whether the parameter `name` belongs to `group` (the official test is a substring match on the name). */
export function inParameterGroup(name: string, group: ConceptAblationParameterGroup): boolean {
  switch (group) {
    case 'kv':
      return name.includes('attn2.to_k') || name.includes('attn2.to_v');
    case 'crossattn':
      return name.includes('attn2.');
    case 'full':
      return true;
  }
}

/** The selected parameters, with a snapshot of their values and their `trainable` flags switched on. */
export class TrainedParameters {
  /** name → variable, in the model's (module) order. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  private readonly snapshot: ParameterSnapshot;
  private readonly resetFlags: () => void;

  /**
   * Selects the group's parameters, snapshots their values and switches `trainable` on.
   * @throws UnsupportedError when the model has no parameter in the group.
   */
  constructor(unet: NoisePredictor, group: ConceptAblationParameterGroup, source: string) {
    const parameters = unet.parameters();
    const selected = new Map([...parameters].filter(([name]) => inParameterGroup(name, group)));
    if (selected.size === 0) {
      throw new UnsupportedError(`${source}: the noise predictor has no parameters in Concept Ablation's '${group}' group (diffusers names with attn2.to_k / attn2.to_v expected).`);
    }
    this.variables = selected;
    this.snapshot = new ParameterSnapshot(parameters, [...selected.keys()]);
    this.resetFlags = setTrainable(parameters, [...selected.keys()]);
  }

  /** The selected variables, for gradients and the optimizer. */
  list(): tf.Variable[] {
    return [...this.variables.values()];
  }

  /** Writes the original values back. */
  restoreValues(): void {
    this.snapshot.restore();
  }

  /** Restores the `trainable` flags and frees the snapshot (call once, in a `finally`). */
  release(): void {
    this.resetFlags();
    this.snapshot.dispose();
  }
}
