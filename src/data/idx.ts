import { readFileSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import { WhittleError } from '../ir/errors.js';
import { checkedSize } from '../ir/limits.js';

/** A decoded IDX file: its dimensions and its bytes, row-major. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** The only IDX element type Whittle reads: unsigned byte (MNIST images and labels). */
const IDX_UBYTE = 0x08;
const IDX_TYPE_NAMES: Record<number, string> = {
  8: 'ubyte',
  9: 'sbyte',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};

/** True when the bytes start with the gzip magic number (1f 8b). */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads an IDX file (the MNIST format), raw or gzip-compressed. Compression is detected from the
 * file's first bytes, so a `.gz` name is not required.
 *
 * ```ts
 * const { dims, data } = readIdx('data/train-images-idx3-ubyte.gz');
 * // dims = [60000, 28, 28], data.length = 47040000
 * ```
 */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new WhittleError('DATA_NOT_FOUND', `cannot read IDX file ${path}: ${(e as Error).message}; check the path`, {
      cause: e,
    });
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: Math.max(1, idxGzipSize(bytes, path)) });
    } catch (e) {
      if (e instanceof WhittleError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw new WhittleError(
          'BAD_DATA',
          `IDX file ${path} inflates past the size its IDX header gives; the file is damaged (or a decompression bomb): fetch it again`,
          {
            cause: e,
          },
        );
      throw new WhittleError(
        'BAD_DATA',
        `IDX file ${path} looks gzip-compressed but does not decompress (${(e as Error).message}); ` +
          'the download is probably truncated: fetch the file again',
        { cause: e },
      );
    }
  }
  return decodeIdx(bytes, path);
}

/**
 * The size a gzipped IDX file must inflate to, from the IDX header at its start (inflated alone):
 * the limit for inflating the whole, so a small file that inflates to gigabytes stops there.
 */
function idxGzipSize(gz: Uint8Array, path: string): number {
  let head: Uint8Array;
  try {
    // A sync flush of the first bytes gives what they inflate to, without the rest of the stream.
    head = gunzipSync(gz.subarray(0, 65536), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
  } catch {
    return 4 + 4 * 255; // The header is all decodeIdx will then need to say what is wrong.
  }
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || head[3] === 0 || head.length < 4 + 4 * (head[3] as number)) return head.length;
  const ndims = head[3] as number;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  return 4 + 4 * ndims + checkedSize(dims, 1, 'the IDX array', path, 'BAD_DATA');
}

/**
 * Decodes IDX bytes (already decompressed). `source` names the data in error messages.
 *
 * ```ts
 * const { dims } = decodeIdx(encodeIdx([2, 2], new Uint8Array([1, 2, 3, 4])));
 * // dims = [2, 2]
 * ```
 */
export function decodeIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const refetch = 'it is not an MNIST-format IDX file or the download is damaged: fetch it again';
  if (bytes.length < 4) {
    throw new WhittleError('BAD_DATA', `${source} is ${bytes.length} bytes, too short for an IDX header; ${refetch}`);
  }
  const b0 = bytes[0] ?? 0;
  const b1 = bytes[1] ?? 0;
  const type = bytes[2] ?? 0;
  const ndims = bytes[3] ?? 0;
  if (b0 !== 0 || b1 !== 0 || ndims === 0) {
    const magic = [b0, b1, type, ndims].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new WhittleError('BAD_DATA', `${source} has bad IDX magic number ${magic} (expected 00 00 08 0N); ${refetch}`);
  }
  if (type !== IDX_UBYTE) {
    const name = IDX_TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16)}`;
    throw new WhittleError('BAD_DATA', `${source} holds ${name} elements; Whittle reads only ubyte (0x08) IDX files: convert the data to bytes`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new WhittleError('BAD_DATA', `${source} is truncated inside its IDX header (${bytes.length} bytes); ${refetch}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = checkedSize(dims, 1, 'the IDX array', source, 'BAD_DATA');
  const available = bytes.length - headerBytes;
  if (available < count) {
    throw new WhittleError('BAD_DATA', `${source} is truncated: dims [${dims.join(', ')}] need ${count} data bytes, found ${available}; ${refetch}`);
  }
  // subarray shares memory with the file buffer: no copy of 47 MB of MNIST pixels.
  return { dims, data: bytes.subarray(headerBytes, headerBytes + count) };
}

/**
 * Encodes bytes as a ubyte IDX file (header + data); the inverse of `decodeIdx`.
 *
 * ```ts
 * writeFileSync('labels-idx1-ubyte', encodeIdx([3], new Uint8Array([5, 0, 4])));
 * ```
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length === 0 || dims.length > 255) {
    throw new WhittleError('BAD_ARGUMENT', `IDX needs 1..255 dims, got ${dims.length}; pass the array's shape`);
  }
  let count = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new WhittleError('BAD_ARGUMENT', `IDX dim ${d} is not a uint32; pass non-negative integer dims`);
    }
    count *= d;
  }
  if (count !== data.length) {
    throw new WhittleError('BAD_ARGUMENT', `IDX dims [${dims.join(', ')}] need ${count} bytes, got ${data.length}; make the shape match the data`);
  }
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + count);
  const view = new DataView(out.buffer);
  out[2] = IDX_UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerBytes);
  return out;
}
