// Files: atomic writes (temporary file + fsync + rename), and .onnx load/save, with external data
// (weights in a file beside the model) confined to the model's folder.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { WhittleError } from './errors.js';
import type { Model } from './graph.js';
import type { ExternalReader, ExternalWriter } from './onnx.js';
import { decodeModel, encodeModel } from './onnx.js';

/** The few fs calls `writeFileAtomic` makes, so a test can stand in a full disk. */
export interface AtomicWriteFs {
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
}

/**
 * Writes all of `bytes` to `fd`: write(2) may take fewer bytes than asked (a full disk, a signal),
 * so this loops on the count it returns and fails when nothing more goes in.
 */
export function writeAll(fd: number, bytes: Uint8Array, fs: AtomicWriteFs = { writeSync }): void {
  for (let done = 0; done < bytes.length; ) {
    const n = fs.writeSync(fd, bytes, done, bytes.length - done);
    if (!(n > 0)) throw new Error(`no space left: ${done} of ${bytes.length} bytes written (ENOSPC)`);
    done += n;
  }
}

/** fsyncs a directory so a rename inside it survives a crash; some file systems refuse, which is harmless. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Directories cannot be opened for fsync everywhere (Windows); the rename still happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `path` so a crash leaves the old file or the new one, never half of one: every byte to a
 * temporary file beside it (looping until all are written), fsync, rename, fsync the folder.
 * Fails with IO, leaving no temporary file, when the disk is full.
 *
 * ```ts
 * writeFileAtomic('model.onnx', [bytes]);
 * ```
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[], fs: AtomicWriteFs = { writeSync }): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const c of chunks) writeAll(fd, c, fs);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDir(dirname(resolve(path)));
  } catch (e) {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    throw new WhittleError('IO', `cannot write ${path}: ${(e as Error).message}; free some space or choose another output path`, { cause: e });
  }
}

/** protobuf cannot serialize a message of 2 GiB or more; past this many weight bytes they go to a side file. */
export const EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 2 ** 26;
/** Tensors smaller than this stay inside the .onnx even when the weights go external (as onnx.save does). */
const EXTERNAL_MIN_TENSOR = 1024;
/** Offsets of external tensors are page-aligned so onnxruntime can map them. */
const EXTERNAL_ALIGN = 4096;

export interface SaveOptions {
  /** Refuse to write over this path (the model's input file). */
  notOver?: string;
  /**
   * Store initializers in `<file>.data` beside the model: `auto` (default) when their bytes
   * exceed `EXTERNAL_DATA_THRESHOLD` (protobuf's 2 GiB limit), `always`, or `never`.
   */
  externalData?: 'auto' | 'always' | 'never';
}

function initializerBytes(model: Model): number {
  let n = 0;
  const walk = (g: Model['graph']): void => {
    for (const t of g.initializers.values()) n += t.data.byteLength;
    for (const node of g.nodes) for (const a of Object.values(node.attributes)) if (a.type === 'graph') walk(a.value);
  };
  walk(model.graph);
  return n;
}

/**
 * Saves a model as an .onnx file, atomically; returns the bytes written (both files with
 * external data).
 *
 * ```ts
 * saveModel(model, 'lenet.onnx');
 * ```
 */
export function saveModel(model: Model, path: string, options: SaveOptions = {}): number {
  if (options.notOver !== undefined && resolve(path) === resolve(options.notOver)) {
    throw new WhittleError('BAD_ARGUMENT', `${path} is the input model; Whittle never overwrites its input, choose another output path`);
  }
  const mode = options.externalData ?? 'auto';
  const external = mode === 'always' || (mode === 'auto' && initializerBytes(model) > EXTERNAL_DATA_THRESHOLD);
  if (!external) {
    const bytes = encodeModel(model);
    writeFileAtomic(path, [bytes]);
    return bytes.length;
  }
  const location = `${basename(path)}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const writer: ExternalWriter = (_name, raw) => {
    if (raw.length < EXTERNAL_MIN_TENSOR) return undefined;
    const pad = (EXTERNAL_ALIGN - (offset % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
    if (pad > 0) chunks.push(new Uint8Array(pad));
    const at = offset + pad;
    chunks.push(raw);
    offset = at + raw.length;
    return { location, offset: at, length: raw.length };
  };
  const bytes = encodeModel(model, { external: writer });
  // The data first: a crash in between leaves a new .data beside the old model, never a model without its data.
  writeFileAtomic(resolve(dirname(path), location), chunks);
  writeFileAtomic(path, [bytes]);
  return bytes.length + offset;
}

/**
 * Reads external tensor data for the model at `modelPath`: locations must stay inside the
 * model's folder (no absolute paths, no `..`, no symbolic link out of it).
 */
function externalReader(modelPath: string): ExternalReader {
  const dir = dirname(resolve(modelPath));
  const realDir = realpathSync(dir);
  return (tensor, location, offset, length) => {
    const escapes = (p: string): boolean => p === '..' || p.startsWith(`..${sep}`) || isAbsolute(p);
    if (isAbsolute(location) || location.split(/[\\/]/).includes('..') || escapes(relative(dir, resolve(dir, location)))) {
      throw new WhittleError(
        'BAD_ONNX',
        `tensor "${tensor}": external data location "${location}" is outside the model's folder ${dir}; Whittle reads external data only from files beside the model`,
      );
    }
    let real: string;
    try {
      real = realpathSync(resolve(dir, location));
    } catch (e) {
      throw new WhittleError('IO', `tensor "${tensor}": cannot find its external data file "${location}" beside ${modelPath}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (escapes(relative(realDir, real))) {
      throw new WhittleError(
        'BAD_ONNX',
        `tensor "${tensor}": external data file "${location}" is a link to ${real}, outside the model's folder; copy the file next to the model`,
      );
    }
    const fd = openSync(real, 'r');
    try {
      const size = fstatSync(fd).size;
      const n = length ?? size - offset;
      if (offset + n > size) {
        throw new WhittleError(
          'BAD_ONNX',
          `tensor "${tensor}": external data "${location}" is ${size} bytes, too short for ${n} bytes at offset ${offset}; the file is truncated`,
        );
      }
      const out = new Uint8Array(n);
      for (let done = 0; done < n; ) {
        const got = readSync(fd, out, done, n - done, offset + done);
        if (got === 0) break;
        done += got;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  };
}

/**
 * Reads an .onnx file, with its external data if it has any.
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
  return decodeModel(bytes, path, { readExternal: externalReader(path) });
}
