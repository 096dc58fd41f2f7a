// NumPy's .npz: a zip archive of .npy files (numpy.savez stores them, numpy.savez_compressed
// deflates them). Node's zlib inflates; the zip structure is read here from its central directory,
// which is where the true sizes are even when the local headers defer them (data descriptors,
// NumPy's forced zip64 headers).
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { WhittleError } from '../ir/errors.js';
import { checkedBytes } from '../ir/limits.js';
import type { NpyArray } from './npy.js';
import { decodeNpy } from './npy.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

function bad(source: string, what: string): WhittleError {
  return new WhittleError('BAD_DATA', `${source} is not a readable .npz (zip) file: ${what}; write it with numpy.savez or numpy.savez_compressed`);
}

/**
 * The files of a zip archive by name, uncompressed (stored and deflated entries, zip64 included).
 *
 * ```ts
 * const files = readZipEntries(readFileSync('data.npz')); // Map { 'x.npy' => Uint8Array, ... }
 * ```
 */
export function readZipEntries(bytes: Uint8Array, source = 'zip'): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number): number => {
    if (o < 0 || o + 4 > bytes.length) throw bad(source, 'truncated');
    return view.getUint32(o, true);
  };
  const u16 = (o: number): number => {
    if (o < 0 || o + 2 > bytes.length) throw bad(source, 'truncated');
    return view.getUint16(o, true);
  };
  const u64 = (o: number): number => {
    if (o < 0 || o + 8 > bytes.length) throw bad(source, 'truncated');
    return Number(view.getBigUint64(o, true));
  };
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 0xffff); o--) {
    if (view.getUint32(o, true) === EOCD) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) throw bad(source, 'no end-of-central-directory record');
  let count = u16(eocd + 10);
  let cd = u32(eocd + 16);
  if ((count === 0xffff || cd === MAX32) && eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR) {
    const z = u64(eocd - 20 + 8);
    if (u32(z) !== ZIP64_EOCD) throw bad(source, 'broken zip64 record');
    count = u64(z + 32);
    cd = u64(z + 48);
  }
  const entries = new Map<string, Uint8Array>();
  // Each central directory entry takes at least 46 bytes: a count past that is a damaged (or hostile) file.
  if (count > bytes.length / 46) throw bad(source, `the directory claims ${count} files in ${bytes.length} bytes`);
  let total = 0;
  let o = cd;
  for (let i = 0; i < count; i++) {
    if (u32(o) !== CENTRAL) throw bad(source, `central directory entry ${i} is damaged`);
    const method = u16(o + 10);
    let compressed = u32(o + 20);
    let size = u32(o + 24);
    const nameLen = u16(o + 28);
    const extraLen = u16(o + 30);
    const commentLen = u16(o + 32);
    let local = u32(o + 42);
    const name = new TextDecoder().decode(bytes.subarray(o + 46, o + 46 + nameLen));
    // zip64: the 32-bit fields that overflowed are in the 0x0001 extra field, in this order.
    for (let e = o + 46 + nameLen; e + 4 <= o + 46 + nameLen + extraLen; ) {
      const id = u16(e);
      const len = u16(e + 2);
      if (id === 0x0001) {
        let p = e + 4;
        if (size === MAX32) (size = u64(p)), (p += 8);
        if (compressed === MAX32) (compressed = u64(p)), (p += 8);
        if (local === MAX32) local = u64(p);
      }
      e += 4 + len;
    }
    if (u32(local) !== LOCAL) throw bad(source, `local header of ${name} is damaged`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + compressed > bytes.length) throw bad(source, `${name} is truncated`);
    const raw = bytes.subarray(start, start + compressed);
    // The directory's size bounds the inflation (a zip bomb stops there), and all files together stay within the limit.
    total += checkedBytes(size, `${name} (uncompressed)`, source, 'BAD_DATA');
    checkedBytes(total, 'the uncompressed archive', source, 'BAD_DATA');
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
      } catch (e) {
        throw bad(source, `${name} does not inflate (${(e as Error).message})`);
      }
    } else throw bad(source, `${name} uses zip compression method ${method}; only stored (0) and deflate (8) are read`);
    if (data.length !== size) throw bad(source, `${name} has ${data.length} bytes, the directory says ${size}`);
    entries.set(name, data);
    o += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/**
 * The arrays of an .npz archive by key (the file names without `.npy`), in archive order.
 *
 * ```ts
 * const { input_ids, attention_mask } = Object.fromEntries(decodeNpz(readFileSync('batch.npz')));
 * ```
 */
export function decodeNpz(bytes: Uint8Array, source = '.npz'): Map<string, NpyArray> {
  const arrays = new Map<string, NpyArray>();
  for (const [name, data] of readZipEntries(bytes, source)) {
    if (!name.endsWith('.npy')) continue;
    arrays.set(name.slice(0, -4), decodeNpy(data, `${source}[${name}]`));
  }
  if (arrays.size === 0) throw new WhittleError('BAD_DATA', `${source} holds no .npy arrays; write it with numpy.savez(path, input_name=array, ...)`);
  return arrays;
}

/**
 * Reads an .npz file.
 *
 * ```ts
 * const arrays = readNpz('calibration.npz');
 * ```
 */
export function readNpz(path: string): Map<string, NpyArray> {
  return decodeNpz(readFileSync(path), path);
}
