/**
 * Registers TensorFlow.js's gradient functions (tfjs-core ships them but registers none by itself).
 *
 * `@tensorflow/tfjs-core`'s Node entry is a CommonJS bundle without gradients; its ESM tree has
 * `dist/register_all_gradients.js`, whose relative imports have no file extensions, which Node's ESM
 * loader refuses. In Node we register a resolve hook that adds `.js` to extensionless relative
 * imports *inside tfjs-core's dist folder only*, then import that module. Bundlers resolve it natively.
 * The engine and the gradient registry are process-global in tfjs, so gradients registered through the
 * ESM tree serve the CommonJS entry too (the `@tensorflow/tfjs` union bundle relies on the same fact).
 */

let ready: Promise<void> | undefined;

const resolveHook = `
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if ((specifier.startsWith('./') || specifier.startsWith('../')) && parent.includes('/@tensorflow/tfjs-core/dist/')
      && !/\\.(m?js|json)$/.test(specifier)) {
    const url = new URL(specifier + '.js', parent);
    const path = fileURLToPath(url);
    if (existsSync(path) && statSync(path).isFile()) return next(url.href, context);
    const index = new URL(specifier + '/index.js', parent);
    if (existsSync(fileURLToPath(index))) return next(index.href, context);
  }
  return next(specifier, context);
}
`;

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * Makes `tf.grad`, `tf.variableGrads` and optimizers work. Idempotent; safe to call from every entry point.
 * @throws Error when the gradient module cannot be loaded (a tfjs-core without `dist/register_all_gradients.js`).
 */
export function ensureGradients(): Promise<void> {
  ready ??= (async () => {
    if (isNode()) {
      const moduleApi = (await import('node:module')) as { register?: (url: string, parent?: string) => void };
      if (typeof moduleApi.register !== 'function') {
        throw new Error('ensureGradients: node:module.register is missing; Node >= 20.19 is required');
      }
      moduleApi.register(`data:text/javascript,${encodeURIComponent(resolveHook)}`);
    }
    const specifier = '@tensorflow/tfjs-core/dist/register_all_gradients.js';
    await import(/* @vite-ignore */ specifier);
  })();
  return ready;
}
