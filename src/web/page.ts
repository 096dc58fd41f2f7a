// The demo page `whittle export --web` writes: loads the Deep Compression container, decodes it to
// ONNX in memory, runs it with onnxruntime-web (global `ort`, from ort.wasm.min.js beside the
// page), classifies the whole MNIST test set (or the user's own float samples, fed as read) and
// the sample you pick or the digit you draw, with the dense ONNX model beside it for comparison.
// Bundled by esbuild at build time (scripts/build.mjs).
import type * as Ort from 'onnxruntime-web';
import { containerToOnnx, inflateRaw } from './decode.js';
import type { WebManifest } from './manifest.js';

declare const ort: typeof Ort;

interface Loaded {
  session: Ort.InferenceSession;
  downloaded: number;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
};
const fmt = (n: number): string => n.toLocaleString('en-US');
const setText = (id: string, text: string): void => {
  $(id).textContent = text;
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

function showError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  const box = $('error');
  box.textContent = `Error: ${msg}`;
  box.hidden = false;
  document.body.dataset['state'] = 'error';
  setText('status', 'failed');
}

let manifest: WebManifest;
const sessions = new Map<string, Loaded>();
/** MNIST/CIFAR bytes, normalized here; or the user's own float samples, fed as read. */
type Samples = Uint8Array | Float32Array;
let testImages: Samples | undefined;
let testLabels: Uint8Array | Int32Array | undefined;

function toInput(pixels: Samples, n: number): Ort.Tensor {
  if (pixels instanceof Float32Array) return new ort.Tensor('float32', pixels.slice(), [n, ...manifest.inputShape]);
  const table = Float32Array.from(manifest.normalization.table);
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) x[i] = table[pixels[i] as number] as number;
  return new ort.Tensor('float32', x, [n, ...manifest.inputShape]);
}

async function logits(session: Ort.InferenceSession, pixels: Samples, n: number): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0] as string]: toInput(pixels, n) });
  return out[session.outputNames[0] as string]!.data as Float32Array;
}

function argmax(v: Float32Array, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if ((v[offset + j] as number) > (v[offset + best] as number)) best = j;
  return best;
}

async function loadModel(id: string): Promise<Loaded> {
  const m = manifest.models.find((x) => x.id === id)!;
  const t0 = performance.now();
  const bytes = await fetchBytes(m.file);
  const t1 = performance.now();
  let onnx = bytes;
  if (m.format === 'wtl') onnx = (await containerToOnnx(bytes, { source: m.file })).onnx;
  const t2 = performance.now();
  const session = await ort.InferenceSession.create(onnx);
  const t3 = performance.now();
  setText(`bytes-${id}`, `${fmt(bytes.length)} bytes`);
  setText(`decode-${id}`, m.format === 'wtl' ? `${(t2 - t1).toFixed(1)} ms → ${fmt(onnx.length)} bytes of ONNX` : 'none (plain ONNX)');
  // The first session also compiles onnxruntime-web's WebAssembly; later ones reuse it.
  setText(
    `load-${id}`,
    `${(t1 - t0).toFixed(0)} ms download, ${(t3 - t2).toFixed(0)} ms session${sessions.size === 0 ? ' (with starting the WebAssembly runtime)' : ''}`,
  );
  const loaded = { session, downloaded: bytes.length };
  sessions.set(id, loaded);
  return loaded;
}

/** Median single-image latency over a few runs, then the whole test set in batches. */
async function measure(id: string, loaded: Loaded): Promise<void> {
  if (testImages === undefined || manifest.test === undefined) return;
  const size = manifest.test.sampleSize;
  const one = testImages.subarray(0, size);
  await logits(loaded.session, one, 1);
  const times: number[] = [];
  for (let i = 0; i < 25; i++) {
    const t = performance.now();
    await logits(loaded.session, one, 1);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  setText(`latency-${id}`, `${(times[times.length >> 1] as number).toFixed(2)} ms per image`);
  const count = manifest.test.count;
  const batch = 500;
  let correct = 0;
  const t0 = performance.now();
  for (let s = 0; s < count; s += batch) {
    const n = Math.min(batch, count - s);
    const out = await logits(loaded.session, testImages.subarray(s * size, (s + n) * size), n);
    const k = out.length / n;
    if (testLabels !== undefined) for (let i = 0; i < n; i++) if (argmax(out, i * k, k) === testLabels[s + i]) correct++;
  }
  const ms = performance.now() - t0;
  const speed = `${(ms / 1000).toFixed(2)} s (${fmt(Math.round((count * 1000) / ms))} samples/s)`;
  if (testLabels === undefined) {
    setText(`accuracy-${id}`, 'no labels');
    setText(`correct-${id}`, `${fmt(count)} samples classified, ${speed}`);
    return;
  }
  setText(`accuracy-${id}`, `${((100 * correct) / count).toFixed(2)}%`);
  setText(`correct-${id}`, `${fmt(correct)} / ${fmt(count)} correct, ${speed}`);
}

async function predict(pixels: Samples): Promise<void> {
  for (const [id, loaded] of sessions) {
    const out = await logits(loaded.session, pixels, 1);
    const max = Math.max(...out);
    const exps = Array.from(out, (v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    const d = argmax(out, 0, out.length);
    setText(`pred-${id}`, `${d} (${((100 * (exps[d] as number)) / sum).toFixed(1)}%)`);
  }
}

/** Shows test image `i` and classifies it. */
async function pick(i: number): Promise<void> {
  if (testImages === undefined || manifest.test === undefined) return;
  const size = manifest.test.sampleSize;
  const px = testImages.subarray(i * size, (i + 1) * size);
  if (px instanceof Uint8Array) drawPixels(px);
  else drawSample(px);
  setText('label', `test sample #${i}${testLabels !== undefined ? `, label ${testLabels[i]}` : ''}`);
  await predict(px);
}

/**
 * An own float sample as a picture, when its shape is one (C × H × W with C of 1 or 3): each
 * channel stretched from its smallest to its largest value; otherwise the canvas is hidden.
 */
function drawSample(x: Float32Array): void {
  const c = $<HTMLCanvasElement>('digit');
  const [ch, h, w] = manifest.inputShape;
  if (manifest.inputShape.length !== 3 || (ch !== 1 && ch !== 3) || h === undefined || w === undefined) {
    c.hidden = true;
    return;
  }
  const plane = h * w;
  const img = new ImageData(w, h);
  for (let k = 0; k < 3; k++) {
    const off = (ch === 3 ? k : 0) * plane;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < plane; i++) (lo = Math.min(lo, x[off + i] as number)), (hi = Math.max(hi, x[off + i] as number));
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    for (let i = 0; i < plane; i++) img.data[4 * i + k] = ((x[off + i] as number) - lo) * scale;
  }
  for (let i = 0; i < plane; i++) img.data[4 * i + 3] = 255;
  showImage(img);
}

/** A 28×28 grey digit (MNIST bytes). */
function drawPixels(px: Uint8Array): void {
  const img = new ImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    img.data.set([px[i] as number, px[i] as number, px[i] as number, 255], 4 * i);
  }
  showImage(img);
}

/** `img` scaled up, unsmoothed, to fill the sample canvas. */
function showImage(img: ImageData): void {
  const c = $<HTMLCanvasElement>('digit');
  const tmp = document.createElement('canvas');
  tmp.width = img.width;
  tmp.height = img.height;
  tmp.getContext('2d')!.putImageData(img, 0, 0);
  const ctx = c.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, c.width, c.height);
}

/** The drawing, as MNIST prepares digits: its ink box scaled into 20×20, centred in 28×28. */
function drawnPixels(): Uint8Array | undefined {
  const c = $<HTMLCanvasElement>('draw');
  const src = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let x0 = c.width,
    y0 = c.height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < c.height; y++)
    for (let x = 0; x < c.width; x++) {
      if ((src[4 * (y * c.width + x)] as number) > 20) (x0 = Math.min(x0, x)), (x1 = Math.max(x1, x)), (y0 = Math.min(y0, y)), (y1 = Math.max(y1, y));
    }
  if (x1 < 0) return undefined;
  const w = x1 - x0 + 1,
    h = y1 - y0 + 1,
    s = 20 / Math.max(w, h);
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const ctx = small.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, 28, 28);
  ctx.drawImage(c, x0, y0, w, h, 14 - (w * s) / 2, 14 - (h * s) / 2, w * s, h * s);
  const d = ctx.getImageData(0, 0, 28, 28).data;
  return Uint8Array.from({ length: 784 }, (_, i) => d[4 * i] as number);
}

function setUpDrawing(): void {
  const c = $<HTMLCanvasElement>('draw');
  const ctx = c.getContext('2d')!;
  const clear = (): void => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, c.width, c.height);
  };
  clear();
  let down = false;
  const at = (e: PointerEvent): [number, number] => {
    const r = c.getBoundingClientRect();
    return [((e.clientX - r.left) * c.width) / r.width, ((e.clientY - r.top) * c.height) / r.height];
  };
  c.addEventListener('pointerdown', (e) => {
    down = true;
    ctx.beginPath();
    ctx.moveTo(...at(e));
  });
  c.addEventListener('pointermove', (e) => {
    if (!down) return;
    ctx.lineWidth = 22;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.strokeStyle = '#fff';
    ctx.lineTo(...at(e));
    ctx.stroke();
  });
  const end = (): void => {
    if (!down) return;
    down = false;
    const px = drawnPixels();
    if (px !== undefined) {
      drawPixels(px);
      setText('label', 'classifying your drawing…');
      predict(px)
        .then(() => setText('label', 'your drawing'))
        .catch(showError);
    }
  };
  c.addEventListener('pointerup', end);
  c.addEventListener('pointerleave', end);
  $('clear').addEventListener('click', clear);
}

/** One column per model: the compressed container first, then the dense ONNX model. */
function buildColumns(): void {
  const rows: [string, string][] = [
    ['file', 'File'],
    ['bytes', 'Model bytes downloaded'],
    ['decode', 'Decoding'],
    ['load', 'Loading'],
    ['latency', 'Latency'],
    ['accuracy', 'Test accuracy'],
    ['correct', ''],
    ['pred', 'Prediction'],
  ];
  $('columns').innerHTML = manifest.models
    .map(
      (m) =>
        `<div class="col" id="col-${m.id}"><h2>${m.label}</h2>${m.lazy ? `<button id="load-button-${m.id}" hidden>Load it (${fmt(m.bytes)} bytes)</button>` : ''}<dl>${rows.map(([k, t]) => `<dt>${t}</dt><dd id="${k}-${m.id}">–</dd>`).join('')}</dl></div>`,
    )
    .join('');
}

async function main(): Promise<void> {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL('./', location.href).href;
  manifest = JSON.parse(new TextDecoder().decode(await fetchBytes('manifest.json'))) as WebManifest;
  document.title = manifest.title;
  setText('title', manifest.title);
  buildColumns();
  if (manifest.drawable === false) $('draw-box').hidden = true;
  else setUpDrawing();
  for (const m of manifest.models) setText(`file-${m.id}`, `${m.file}: ${fmt(m.bytes)} bytes`);
  setText('status', 'loading the model…');
  const first = manifest.models[0]!;
  const loaded = await loadModel(first.id);
  if (manifest.test !== undefined) {
    const { count, sampleSize, dtype, labelled } = manifest.test;
    setText('status', `loading ${fmt(count)} test samples (${fmt(manifest.test.bytes)} bytes compressed)…`);
    const all = await inflateRaw(await fetchBytes(manifest.test.file));
    const n = count * sampleSize;
    if (dtype === 'float32') {
      // Little-endian floats then int32 labels, as written (every browser is little-endian).
      const buffer = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      testImages = new Float32Array(buffer, 0, n);
      testLabels = labelled === false ? undefined : new Int32Array(buffer, 4 * n, count);
    } else {
      testImages = all.subarray(0, n);
      testLabels = all.subarray(n, n + count);
    }
    setText('status', 'classifying the test set…');
    await measure(first.id, loaded);
    await pick(0);
  }
  const index = $<HTMLInputElement>('index');
  index.max = String((manifest.test?.count ?? 1) - 1);
  index.addEventListener('change', () => pick(Number(index.value)).catch(showError));
  $('random').addEventListener('click', () => {
    const i = Math.floor(Math.random() * (manifest.test?.count ?? 1));
    index.value = String(i);
    pick(i).catch(showError);
  });
  for (const m of manifest.models.slice(1)) {
    const button = $<HTMLButtonElement>(`load-button-${m.id}`);
    button.hidden = false;
    button.addEventListener('click', () => {
      button.disabled = true;
      document.body.dataset['state'] = 'loading';
      loadModel(m.id)
        .then((l) => measure(m.id, l))
        .then(() => pick(Number(index.value)))
        .then(() => (document.body.dataset['state'] = 'ready'))
        .catch(showError);
    });
  }
  setText('status', 'ready');
  document.body.dataset['state'] = 'ready';
}

window.addEventListener('error', (e) => showError(e.error ?? e.message));
main().catch(showError);
