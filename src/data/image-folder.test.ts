import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, listImageFolder, readImageFolder, resizeBilinear } from './image-folder.js';

const root = mkdtempSync(join(tmpdir(), 'whittle-images-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dir = join(root, 'classes');

/** A W×H RGBA image whose pixel (y, x) is (r, g, b) = (base + x, base + 10y, 200). */
function pixels(w: number, h: number, base: number): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([base + x, base + 10 * y, 200, 255], (y * w + x) * 4);
  return data;
}

function writePng(path: string, w: number, h: number, base: number): void {
  const png = new PNG({ width: w, height: h });
  png.data = Buffer.from(pixels(w, h, base));
  writeFileSync(path, PNG.sync.write(png));
}

// Class folders out of order on purpose: labels follow the sorted names, as torchvision's ImageFolder.
mkdirSync(join(dir, 'zebra'), { recursive: true });
mkdirSync(join(dir, 'ant'));
writePng(join(dir, 'zebra', 'b.png'), 2, 2, 100);
writePng(join(dir, 'zebra', 'a.png'), 2, 2, 50);
writePng(join(dir, 'ant', 'c.png'), 2, 2, 0);
writeFileSync(join(dir, 'ant', 'notes.txt'), 'not an image');

test('class sub-folders give labels in sorted class order, files sorted within each', () => {
  const { files, labels, classes } = listImageFolder(dir);
  assert.deepEqual(classes, ['ant', 'zebra']);
  assert.deepEqual(
    files.map((f) => f.slice(dir.length + 1)),
    ['ant/c.png', 'zebra/a.png', 'zebra/b.png'],
  );
  assert.deepEqual([...labels!], [0, 1, 1]);
});

test('PNG pixels become NCHW RGB floats on the 0..1 scale, normalized per channel', () => {
  const { array, labels } = readImageFolder(dir, { mean: [0.5, 0, 0], std: [0.5, 1, 2] });
  assert.deepEqual(array.dims, [3, 3, 2, 2]);
  assert.deepEqual([...labels!], [0, 1, 1]);
  // Sample 1 is zebra/a.png (base 50): R at (y=1, x=1) = 51, G = 60, B = 200.
  const at = (n: number, c: number, y: number, x: number): number => array.data[((n * 3 + c) * 2 + y) * 2 + x] as number;
  assert.ok(Math.abs(at(1, 0, 1, 1) - (51 / 255 - 0.5) / 0.5) < 1e-6);
  assert.ok(Math.abs(at(1, 1, 1, 1) - 60 / 255) < 1e-6);
  assert.ok(Math.abs(at(1, 2, 1, 1) - 200 / 255 / 2) < 1e-6);
});

test('NHWC with BGR order, and gray as ITU-R 601 luma', () => {
  const bgr = readImageFolder(dir, { channels: 'bgr', layout: 'NHWC' });
  assert.deepEqual(bgr.array.dims, [3, 2, 2, 3]);
  // Sample 0 is ant/c.png (base 0), pixel (y=1, x=0): r = 0, g = 10, b = 200 → B, G, R.
  const p = ((0 * 2 + 1) * 2 + 0) * 3;
  assert.deepEqual(
    [...bgr.array.data.slice(p, p + 3)].map((v) => Math.round((v as number) * 255)),
    [200, 10, 0],
  );
  const gray = readImageFolder(dir, { channels: 'gray' });
  assert.deepEqual(gray.array.dims, [3, 1, 2, 2]);
  assert.ok(Math.abs((gray.array.data[3] as number) - (0.299 * 1 + 0.587 * 10 + 0.114 * 200) / 255) < 1e-6);
});

test('bilinear resize with half-pixel centres matches a hand computation', () => {
  // 2×1 image, R = 0 and 100: upsampled to 4 wide, source x = (x + 0.5) / 2 - 0.5 → -0.25, 0.25, 0.75, 1.25.
  const img = { width: 2, height: 1, data: Uint8Array.of(0, 0, 0, 255, 100, 0, 0, 255) };
  const out = resizeBilinear(img, 1, 4);
  assert.deepEqual(
    [0, 1, 2, 3].map((x) => out[x * 4]),
    [0, 25, 75, 100],
  );
  // Downsampling 4 → 2 averages neighbours at x = 0.5 and 2.5.
  const wide = { width: 4, height: 1, data: Uint8Array.from([0, 40, 80, 120].flatMap((v) => [v, 0, 0, 255])) };
  assert.deepEqual(
    [...resizeBilinear(wide, 1, 2)].filter((_, i) => i % 4 === 0),
    [20, 100],
  );
});

test('JPEG decodes (lossy: within a few levels), and --image-size resizes mixed sizes', () => {
  const jdir = mkdtempSync(join(root, 'jpeg-'));
  const w = 8;
  const h = 8;
  const flat = new Uint8Array(w * h * 4).fill(0).map((_, i) => (i % 4 === 0 ? 180 : i % 4 === 1 ? 90 : i % 4 === 2 ? 30 : 255));
  writeFileSync(join(jdir, 'x.jpg'), jpeg.encode({ width: w, height: h, data: flat }, 100).data);
  writePng(join(jdir, 'y.png'), 4, 4, 0);
  const img = decodeImage(jpeg.encode({ width: w, height: h, data: flat }, 100).data, 'x.jpg');
  assert.equal(img.width, 8);
  assert.ok(Math.abs((img.data[0] as number) - 180) <= 3 && Math.abs((img.data[1] as number) - 90) <= 3 && Math.abs((img.data[2] as number) - 30) <= 3);
  assert.throws(() => readImageFolder(jdir), /y\.png is 4×4, .*x\.jpg is 8×8; pass options.size \[H, W\]/);
  const { array, labels } = readImageFolder(jdir, { size: [4, 4] });
  assert.deepEqual(array.dims, [2, 3, 4, 4]);
  assert.equal(labels, undefined);
  assert.ok(Math.abs((array.data[0] as number) - 180 / 255) < 4 / 255);
});

test('not an image and an empty folder are clear errors', () => {
  assert.throws(() => decodeImage(Uint8Array.of(1, 2, 3), 'junk.png'), /junk\.png is neither PNG nor JPEG/);
  assert.throws(() => decodeImage(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0, 0), 'cut.png'), /cut\.png could not be decoded/);
  const empty = mkdtempSync(join(root, 'empty-'));
  assert.throws(() => listImageFolder(empty), /holds no PNG or JPEG images/);
});
