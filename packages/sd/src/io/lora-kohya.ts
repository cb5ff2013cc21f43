/**
 * kohya (sd-scripts / A1111) LoRA module names: the diffusers module path with every `.` replaced by `_`, after a
 * `lora_unet_` or `lora_te_` prefix, e.g.
 *   down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q
 *   → lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q
 * Going back is ambiguous (module names contain `_`), so names are resolved against the model's known module paths
 * when the caller passes them (e.g. the UNet's weight keys), and otherwise by merging the underscore-separated tokens
 * that form known diffusers/transformers identifiers (`to_q`, `transformer_blocks`, `self_attn`, …).
 */

/** Multi-token identifiers of diffusers UNet and transformers CLIP module paths (longest match wins). */
const KNOWN_IDENTIFIERS = new Set([
  'down_blocks', 'up_blocks', 'mid_block', 'transformer_blocks', 'to_q', 'to_k', 'to_v', 'to_out', 'proj_in', 'proj_out',
  'time_emb_proj', 'conv_shortcut', 'conv_in', 'conv_out', 'conv_norm_out', 'time_embedding', 'linear_1', 'linear_2',
  'add_embedding', 'class_embedding', 'add_k_proj', 'add_v_proj', 'add_q_proj', 'to_add_out', 'group_norm', 'norm_out',
  'text_model', 'self_attn', 'q_proj', 'k_proj', 'v_proj', 'out_proj', 'layer_norm1', 'layer_norm2', 'final_layer_norm',
  'token_embedding', 'position_embedding', 'text_projection',
]);
const MAX_TOKENS = 3;

/** Module path → kohya name body (without the `lora_unet_` / `lora_te_` prefix). */
export function toKohyaName(modulePath: string): string {
  return modulePath.replace(/\./g, '_');
}

/** Best-effort inverse of `toKohyaName` without a module list (greedy longest match over known identifiers). */
export function guessModulePath(kohyaName: string): string {
  const tokens = kohyaName.split('_');
  const parts: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    let taken = 1;
    for (let length = Math.min(MAX_TOKENS, tokens.length - i); length >= 2; length--) {
      if (KNOWN_IDENTIFIERS.has(tokens.slice(i, i + length).join('_'))) {
        taken = length;
        break;
      }
    }
    parts.push(tokens.slice(i, i + taken).join('_'));
    i += taken;
  }
  return parts.join('.');
}

/** Outcome of resolving a kohya name. */
export type KohyaResolution = { readonly path: string } | { readonly ambiguous: readonly string[] } | undefined;

/**
 * Builds a resolver from known module paths or weight keys (a trailing `.weight` / `.bias` is stripped).
 * Without a list, names are resolved with `guessModulePath`.
 */
export function kohyaResolver(known?: Iterable<string>): (kohyaName: string) => KohyaResolution {
  if (known === undefined) return (name) => ({ path: guessModulePath(name) });
  const table = new Map<string, Set<string>>();
  for (const entry of known) {
    const path = entry.replace(/\.(weight|bias)$/, '');
    const key = toKohyaName(path);
    const set = table.get(key) ?? new Set<string>();
    set.add(path);
    table.set(key, set);
  }
  return (name) => {
    const found = table.get(name);
    if (!found) return undefined;
    if (found.size > 1) return { ambiguous: [...found].sort() };
    return { path: [...found][0] as string };
  };
}
