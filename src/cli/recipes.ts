// Recipes by name: `--recipe deep-compression-lenet-300-100` finds the YAML shipped in the
// package's recipes/ folder, so the README's commands work after `npm install whittle`.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WhittleError } from '../ir/errors.js';
import { ZOO_NAMES } from '../nn/zoo.js';

/** The package's recipes/ folder (dist/src/cli → the package root). */
export const RECIPES_DIR = fileURLToPath(new URL('../../../recipes/', import.meta.url));

/** The recipe names shipped with the package (file names without .yaml). */
export function shippedRecipes(): string[] {
  return existsSync(RECIPES_DIR)
    ? readdirSync(RECIPES_DIR)
        .filter((n) => n.endsWith('.yaml'))
        .map((n) => n.slice(0, -5))
        .sort()
    : [];
}

/**
 * A recipe file path: `spec` itself when it is a file, else the shipped recipe of that name.
 *
 * ```ts
 * resolveRecipePath('deep-compression-lenet-5'); // '/…/node_modules/whittle/recipes/deep-compression-lenet-5.yaml'
 * ```
 */
export function resolveRecipePath(spec: string): string {
  if (existsSync(spec)) return spec;
  const name = spec.replace(/\.ya?ml$/, '').replace(/^recipes\//, '');
  const shipped = join(RECIPES_DIR, `${name}.yaml`);
  if (!name.includes('/') && existsSync(shipped)) return shipped;
  throw new WhittleError('BAD_ARGUMENT', `--recipe ${spec}: no such file, and not a shipped recipe (${shippedRecipes().join(', ') || 'none found'})`);
}

/**
 * Fails with the way out when a recipe's `model:` is neither a file nor a zoo name: the shipped
 * recipes start from the model that recipes/README.md's baseline command trains.
 */
export function checkRecipeModel(spec: string, model: string): void {
  if (existsSync(model) || (ZOO_NAMES as readonly string[]).includes(model.split(':')[0] ?? '')) return;
  const zoo = ZOO_NAMES.find((n) => model.includes(n));
  const how = zoo !== undefined ? `train it first (whittle train --model ${zoo} --out ${model}; recipes/README.md has the full command)` : 'put it there first';
  throw new WhittleError('BAD_ARGUMENT', `recipe ${spec} starts from the model ${model}, which does not exist: ${how}, or pass --model FILE.onnx`);
}
