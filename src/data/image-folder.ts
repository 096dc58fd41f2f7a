// A folder of PNG/JPEG images, as torchvision's ImageFolder reads it: one sub-folder per class,
// classes indexed in sorted name order. pngjs and jpeg-js decode (pure JavaScript, no native build).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { WhittleError } from '../ir/errors.js';
import { checkedSize, readLimits } from '../ir/limits.js';
import type { NpyArray } from './npy.js';

/** How image pixels become an input tensor. */
export interface ImageOptions {
  /** Resize every image to H×W (bilinear); default: keep the size, which all images must share. */
  size?: readonly [number, number];
  /** Default 'rgb'. */
  channels?: 'rgb' | 'bgr' | 'gray';
  /** Per-channel mean and std on the 0..1 scale: value = (pixel/255 − mean) / std. Default 0 and 1. */
  mean?: readonly number[];
  std?: readonly number[];
  /** Default 'NCHW'. */
  layout?: 'NCHW' | 'NHWC';
}

/** Image file extensions read. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** An image as 8-bit RGBA pixels. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Decodes a PNG or JPEG file's bytes to RGBA.
 *
 * ```ts
 * const { width, height, data } = decodeImage(readFileSync('cat.png'), 'cat.png');
 * ```
 */
export function decodeImage(bytes: Uint8Array, source: string): RgbaImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The size a header claims is checked before the decoder allocates width × height × 4 bytes.
  const limit = readLimits();
  const maxPixels = Math.floor(Math.min(limit.maxElements, limit.maxBytes / 4));
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkedSize([view.getUint32(16, false), view.getUint32(20, false), 4], 1, 'the PNG image', source, 'BAD_DATA');
  }
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: Math.floor(limit.maxBytes / 2 ** 20),
      });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (e) {
    throw new WhittleError('BAD_DATA', `${source} could not be decoded (${(e as Error).message}); is the file complete?`);
  }
  throw new WhittleError('BAD_DATA', `${source} is neither PNG nor JPEG; convert it to one of them`);
}

/**
 * Bilinear resize of one RGBA image, half-pixel centres (as OpenCV's INTER_LINEAR and ONNX Resize
 * `linear`/`half_pixel`, without antialiasing), returning float values 0..255 per channel.
 *
 * ```ts
 * const px = resizeBilinear(img, 224, 224); // Float32Array of 224*224*4
 * ```
 */
export function resizeBilinear(img: RgbaImage, height: number, width: number): Float32Array {
  const out = new Float32Array(height * width * 4);
  const sy = img.height / height;
  const sx = img.width / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 4; c++) {
        const p = (yy: number, xx: number): number => img.data[(yy * img.width + xx) * 4 + c] as number;
        const top = p(y0, x0) * (1 - wx) + p(y0, x1) * wx;
        const bottom = p(y1, x0) * (1 - wx) + p(y1, x1) * wx;
        out[(y * width + x) * 4 + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

function imagesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()) && statSync(join(dir, f)).isFile())
    .sort();
}

/**
 * The image files of a folder: with class sub-folders, every image in each (labels = the sorted
 * sub-folder index, as torchvision's ImageFolder); else the images directly in it, unlabelled.
 *
 * ```ts
 * const { files, labels, classes } = listImageFolder('photos'); // classes ['cat', 'dog']
 * ```
 */
export function listImageFolder(dir: string): { files: string[]; labels: Int32Array | undefined; classes: string[] | undefined } {
  const classes = readdirSync(dir)
    .filter((d) => !d.startsWith('.') && statSync(join(dir, d)).isDirectory())
    .sort();
  if (classes.length > 0) {
    const files: string[] = [];
    const labels: number[] = [];
    classes.forEach((c, k) => {
      for (const f of imagesIn(join(dir, c))) {
        files.push(join(dir, c, f));
        labels.push(k);
      }
    });
    if (files.length > 0) return { files, labels: Int32Array.from(labels), classes };
  }
  const files = imagesIn(dir).map((f) => join(dir, f));
  if (files.length === 0) throw new WhittleError('BAD_DATA', `${dir} holds no PNG or JPEG images (directly or in class sub-folders)`);
  return { files, labels: undefined, classes: undefined };
}

function perChannel(values: readonly number[] | undefined, fill: number, channels: number, flag: string): number[] {
  if (values === undefined) return Array<number>(channels).fill(fill);
  if (values.length === 1) return Array<number>(channels).fill(values[0] as number);
  if (values.length !== channels)
    throw new WhittleError('BAD_ARGUMENT', `${flag} has ${values.length} values for ${channels} channel(s); give one per channel or one for all`);
  return [...values];
}

/**
 * Reads an image folder into one float32 array [N, C, H, W] (or NHWC) and its labels.
 *
 * ```ts
 * const { array, labels } = readImageFolder('val', { size: [224, 224], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
 * ```
 */
export function readImageFolder(
  dir: string,
  options: ImageOptions = {},
): { array: NpyArray; labels: Int32Array | undefined; classes: string[] | undefined; files: string[] } {
  const { files, labels, classes } = listImageFolder(dir);
  const mode = options.channels ?? 'rgb';
  const c = mode === 'gray' ? 1 : 3;
  const mean = perChannel(options.mean, 0, c, '--mean');
  const std = perChannel(options.std, 1, c, '--std');
  if (std.some((s) => s === 0)) throw new WhittleError('BAD_ARGUMENT', '--std has a 0; a standard deviation must be non-zero');
  let size = options.size;
  let data: Float32Array | undefined;
  files.forEach((file, n) => {
    const img = decodeImage(readFileSync(file), file);
    if (size === undefined) size = [img.height, img.width];
    const [h, w] = size;
    if (options.size === undefined && (img.height !== h || img.width !== w)) {
      throw new WhittleError('BAD_DATA', `${file} is ${img.height}×${img.width}, ${files[0]} is ${h}×${w}; pass --image-size H,W to resize them all`);
    }
    const px = img.height === h && img.width === w ? img.data : resizeBilinear(img, h, w);
    data ??= new Float32Array(checkedSize([files.length, c, h, w], 4, 'the images', dir, 'BAD_DATA'));
    const base = n * c * h * w;
    for (let i = 0; i < h * w; i++) {
      const r = px[i * 4] as number;
      const g = px[i * 4 + 1] as number;
      const b = px[i * 4 + 2] as number;
      // Gray is ITU-R 601 luma, as PIL's convert('L').
      const vals = mode === 'gray' ? [0.299 * r + 0.587 * g + 0.114 * b] : mode === 'bgr' ? [b, g, r] : [r, g, b];
      for (let k = 0; k < c; k++) {
        const v = ((vals[k] as number) / 255 - (mean[k] as number)) / (std[k] as number);
        data[options.layout === 'NHWC' ? base + i * c + k : base + k * h * w + i] = v;
      }
    }
  });
  const [h, w] = size as readonly [number, number];
  const dims = options.layout === 'NHWC' ? [files.length, h, w, c] : [files.length, c, h, w];
  return { array: { dtype: 'float32', dims, data: data as Float32Array }, labels, classes, files };
}
