// Files: atomic writes (temporary file + fsync + rename), and .onnx load/save.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { WhittleError } from './errors.js';
import type { Model } from './graph.js';
import { decodeModel, encodeModel } from './onnx.js';

/** Writes `path` so a crash leaves the old file or the new one, never half of one. */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const c of chunks) writeSync(fd, c);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    throw new WhittleError('IO', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Saves a model as an .onnx file, atomically; returns the bytes written.
 *
 * ```ts
 * saveModel(model, 'lenet.onnx');
 * ```
 */
export function saveModel(model: Model, path: string, options: { notOver?: string } = {}): number {
  if (options.notOver !== undefined && resolve(path) === resolve(options.notOver)) {
    throw new WhittleError('BAD_ARGUMENT', `${path} is the input model; Whittle never overwrites its input, choose another output path`);
  }
  const bytes = encodeModel(model);
  writeFileAtomic(path, [bytes]);
  return bytes.length;
}

/**
 * Reads an .onnx file.
 *
 * ```ts
 * const model = loadModelFile('lenet.onnx');
 * ```
 */
export function loadModelFile(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new WhittleError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeModel(bytes, path);
}
