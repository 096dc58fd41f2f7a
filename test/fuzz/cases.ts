// The fuzz cases: seeded mutations (bit flips, truncations, inserted bytes, field-level changes
// and bombs) of the files Whittle reads — ONNX models, .wtl containers, IDX data (raw and gzip),
// .npy/.npz arrays and YAML recipes — each with the command that reads it. Same seed, same cases.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { encodeContainer, sharedValues } from '../../src/compress/codec/container.js';
import type { SharedWeight } from '../../src/compress/codec/container.js';
import { encodeIdx } from '../../src/data/idx.js';
import { encodeNpy } from '../../src/data/npy.js';
import { Tensor } from '../../src/ir/tensor.js';
import { encodeModel } from '../../src/ir/onnx.js';
import { ModelProtoSchema, TensorShapeProto_DimensionSchema } from '../../src/ir/proto/onnx_pb.js';
import type { ModelProto } from '../../src/ir/proto/onnx_pb.js';
import { createModel } from '../../src/nn/index.js';

export const KINDS = ['onnx', 'wtl', 'idx', 'npy', 'npz', 'recipe'] as const;
export type Kind = (typeof KINDS)[number];

/** One case: files to write into a fresh folder, the CLI arguments (paths relative to it), and which files are outputs. */
export interface FuzzCase {
  id: string;
  kind: Kind;
  mutation: string;
  files: Map<string, Uint8Array>;
  args: string[];
  /** Files the command may write: they must be complete (or absent) afterwards. */
  outputs: string[];
}

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rand, n: number): number => Math.floor(r() * n);

// ---- byte-level mutations ----
function flipBits(r: Rand, b: Uint8Array): Uint8Array {
  const out = b.slice();
  const n = 1 + int(r, 8);
  for (let i = 0; i < n && out.length > 0; i++) out[int(r, out.length)]! ^= 1 << int(r, 8);
  return out;
}
function truncate(r: Rand, b: Uint8Array): Uint8Array {
  return b.slice(0, int(r, b.length));
}
function insertBytes(r: Rand, b: Uint8Array): Uint8Array {
  const at = int(r, b.length + 1);
  const junk = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
  return Uint8Array.from([...b.subarray(0, at), ...junk, ...b.subarray(at)]);
}
function setWord(r: Rand, b: Uint8Array): Uint8Array {
  // A 32-bit field (a length, a count, a dimension) set to an extreme.
  const out = b.slice();
  if (out.length < 4) return out;
  const at = int(r, out.length - 3);
  new DataView(out.buffer).setUint32(at, pick(r, [0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 1e9, 65535]), r() < 0.5);
  return out;
}
const BYTE_MUTATIONS = { flipBits, truncate, insertBytes, setWord } as const;

function byteMutation(r: Rand, b: Uint8Array): { bytes: Uint8Array; mutation: string } {
  const name = pick(r, Object.keys(BYTE_MUTATIONS) as (keyof typeof BYTE_MUTATIONS)[]);
  return { bytes: BYTE_MUTATIONS[name](r, b), mutation: name };
}

// ---- base files (small, deterministic) ----
const base = (() => {
  let cache: { model: Uint8Array; wtl: Uint8Array; idx: Map<string, Uint8Array>; npy: Uint8Array; labels: Uint8Array; npz: Uint8Array } | undefined;
  return () => {
    if (cache !== undefined) return cache;
    const m = createModel('mlp:784-16-10', { seed: 1 });
    const model = encodeModel(m);
    const w = m.graph.initializers.get('fc1.weight') as Tensor;
    const data = w.data as Float32Array;
    const codebook = Float32Array.of(-0.05, -0.02, 0.02, 0.05);
    const assignment = Int32Array.from(data, (v) => (Math.abs(v) < 0.02 ? -1 : v < -0.035 ? 0 : v < 0 ? 1 : v < 0.035 ? 2 : 3));
    const shared: SharedWeight = { dims: [...w.dims], bits: 2, codebook, assignment };
    const g = m.graph.clone();
    g.initializers.set('fc1.weight', new Tensor('float32', w.dims, sharedValues(shared)));
    const wtl = encodeContainer({ ...m, graph: g }, new Map([['fc1.weight', shared]])).bytes;
    const r = rng(7);
    const n = 64;
    const pixels = Uint8Array.from({ length: n * 784 }, () => (r() < 0.8 ? 0 : int(r, 256)));
    const labels = Uint8Array.from({ length: n }, () => int(r, 10));
    const idx = new Map<string, Uint8Array>([
      ['train-images-idx3-ubyte', encodeIdx([n, 28, 28], pixels)],
      ['train-labels-idx1-ubyte', encodeIdx([n], labels)],
      ['t10k-images-idx3-ubyte', encodeIdx([n, 28, 28], pixels)],
      ['t10k-labels-idx1-ubyte', encodeIdx([n], labels)],
    ]);
    const x = Float32Array.from(pixels, (p) => p / 255);
    const npy = encodeNpy({ dtype: 'float32', dims: [n, 1, 28, 28], data: x });
    const labelsNpy = encodeNpy({ dtype: 'int64', dims: [n], data: BigInt64Array.from(labels, (l) => BigInt(l)) });
    const npz = zip([
      ['input.npy', npy],
      ['labels.npy', labelsNpy],
    ]);
    cache = { model, wtl, idx, npy, labels: labelsNpy, npz };
    return cache;
  };
})();

/** A zip archive of deflated members (what numpy.savez_compressed writes), sizes as given. */
export function zip(members: [string, Uint8Array, number?][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data, claimed] of members) {
    const body = deflateRawSync(data);
    const nb = new TextEncoder().encode(name);
    const local = new Uint8Array(30 + nb.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, claimed ?? data.length, true);
    lv.setUint16(26, nb.length, true);
    local.set(nb, 30);
    const c = new Uint8Array(46 + nb.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, claimed ?? data.length, true);
    cv.setUint16(28, nb.length, true);
    cv.setUint32(42, offset, true);
    c.set(nb, 46);
    parts.push(local, body);
    central.push(c);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let o = 0;
  for (const p of [...parts, ...central, eocd]) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- field-level ONNX mutations ----
const HUGE: readonly bigint[] = [0n, -1n, 10n ** 12n, 2n ** 40n, 2n ** 63n - 1n, -(2n ** 62n)];

function onnxFieldMutation(r: Rand, bytes: Uint8Array): { bytes: Uint8Array; mutation: string } {
  const m: ModelProto = fromBinary(ModelProtoSchema, bytes);
  const g = m.graph;
  if (g === undefined) return { bytes, mutation: 'none' };
  const what = pick(r, ['dims', 'opset', 'opType', 'input', 'noOutputs', 'valueInfoDim', 'nanWeights', 'attr', 'irVersion', 'name'] as const);
  switch (what) {
    case 'dims': {
      const t = pick(r, g.initializer);
      if (t !== undefined) t.dims = t.dims.map(() => pick(r, HUGE));
      break;
    }
    case 'opset':
      for (const o of m.opsetImport) o.version = BigInt(pick(r, [0, 1, 6, 99, 2 ** 31]));
      break;
    case 'opType': {
      const n = pick(r, g.node);
      if (n !== undefined) n.opType = pick(r, ['Conv', 'NoSuchOp', '', 'Loop', 'Reshape']);
      break;
    }
    case 'input': {
      const n = pick(r, g.node);
      if (n !== undefined && n.input.length > 0) n.input[int(r, n.input.length)] = pick(r, ['missing', '', n.output[0] ?? 'x']);
      break;
    }
    case 'noOutputs':
      g.output = [];
      break;
    case 'valueInfoDim': {
      const v = pick(r, [...g.input, ...g.output]);
      const shape = v?.type?.value.case === 'tensorType' ? v.type.value.value.shape : undefined;
      if (shape !== undefined) shape.dim = shape.dim.map(() => create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: pick(r, HUGE) } }));
      break;
    }
    case 'nanWeights': {
      const t = pick(r, g.initializer);
      if (t !== undefined && t.rawData.length >= 4) {
        const raw = t.rawData.slice();
        const dv = new DataView(raw.buffer);
        for (let i = 0; i < 1 + int(r, 20); i++)
          dv.setFloat32(4 * int(r, raw.length / 4), pick(r, [Number.NaN, Number.POSITIVE_INFINITY, -Number.POSITIVE_INFINITY]), true);
        t.rawData = raw;
      }
      break;
    }
    case 'attr': {
      const n = pick(r, g.node);
      const a = n === undefined ? undefined : pick(r, n.attribute);
      if (a !== undefined) {
        a.i = BigInt(pick(r, [-1, 0, 2 ** 40]));
        a.ints = a.ints.map(() => BigInt(pick(r, [-1, 0, 2 ** 31])));
      }
      break;
    }
    case 'irVersion':
      m.irVersion = BigInt(pick(r, [0, 1, 99]));
      break;
    case 'name': {
      const t = pick(r, g.initializer);
      if (t !== undefined) {
        const evil = pick(r, ['\u001b[2J\u001b[31mEVIL', 'a\nb\rc', '\u009b31m', '\udc00lone']);
        for (const n of g.node) n.input = n.input.map((i) => (i === t.name ? evil : i));
        t.name = evil;
      }
      break;
    }
  }
  return { bytes: toBinary(ModelProtoSchema, m), mutation: `field:${what}` };
}

// ---- bombs ----
const memo = new Map<string, Uint8Array>();
/** Bomb payloads are the same every time: compressed once. */
function once(key: string, make: () => Uint8Array): Uint8Array {
  let v = memo.get(key);
  if (v === undefined) memo.set(key, (v = make()));
  return v;
}

function bomb(kind: Kind, r: Rand): { files: Map<string, Uint8Array>; mutation: string } | undefined {
  const b = base();
  switch (kind) {
    case 'idx': {
      const files = new Map(b.idx);
      // Header says 64 × 28 × 28; the gzip stream goes on for 256 MiB of zeros.
      files.set(
        't10k-images-idx3-ubyte',
        once('idx', () => {
          const big = new Uint8Array(256 * 2 ** 20);
          big.set(b.idx.get('t10k-images-idx3-ubyte') as Uint8Array);
          return gzipSync(big, { level: 1 });
        }),
      );
      return { files, mutation: 'bomb:gzip' };
    }
    case 'npz': {
      const bytes = once('npz', () => {
        const big = new Uint8Array(256 * 2 ** 20);
        big.set(b.npy);
        return zip([['input.npy', big, b.npy.length]]);
      });
      return { files: new Map([['data.npz', bytes]]), mutation: 'bomb:zip' };
    }
    case 'npy': {
      const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${pick(r, ['100000, 100000', '4611686018427387904,', '65536, 65536, 4'])}), }`.padEnd(
        118,
      );
      const hb = new TextEncoder().encode(`${header}\n`);
      const bytes = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, hb.length & 255, hb.length >> 8, ...hb, 0, 0, 0, 0]);
      return { files: new Map([['x.npy', bytes]]), mutation: 'bomb:shape' };
    }
    case 'wtl': {
      // The graph section replaced by 256 MiB of deflated zeros (CRC recomputed).
      const zeros = once('wtl', () => deflateRawSync(new Uint8Array(256 * 2 ** 20)));
      const w = b.wtl;
      const dv = new DataView(w.buffer, w.byteOffset);
      const lenAt = 5 + 1 + 32 + 4;
      const graphLen = dv.getUint32(lenAt, true);
      const out = Uint8Array.from([...w.subarray(0, lenAt), 0, 0, 0, 0, ...zeros, ...w.subarray(lenAt + 4 + graphLen)]);
      new DataView(out.buffer).setUint32(lenAt, zeros.length, true);
      if (r() < 0.5) new DataView(out.buffer).setUint32(lenAt - 4, 256 * 2 ** 20, true);
      resum(out);
      return { files: new Map([['m.wtl', out]]), mutation: 'bomb:inflate' };
    }
    case 'onnx':
      return undefined;
    case 'recipe': {
      const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < 9; i++)
        laughs.push(
          `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)}]`,
        );
      return { files: new Map([['r.yaml', new TextEncoder().encode(`${laughs.join('\n')}\nmodel: m.onnx\n`)]]), mutation: 'bomb:billion-laughs' };
    }
  }
}

function resum(b: Uint8Array): void {
  // CRC-32 (IEEE) over everything but the last 4 bytes, as a forger would recompute it.
  let c = ~0;
  for (let i = 0; i < b.length - 4; i++) {
    c ^= b[i] as number;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, ~c >>> 0, true);
}

const RECIPE = (model: string): string => `model: ${model}
threads: 1
samples: 64
layers:
  - { layer: fc1, sparsity: 0.9, bits: 4 }
  - { layer: fc2, sparsity: 0.5, bits: 4 }
prune: { method: rounds, rounds: 1, epochs: 1, lr: 0.05 }
centroids: { epochs: 1, lr: 0.001 }
encode: { gapBits: auto, half: true }
`;

function textMutation(r: Rand, text: string): { text: string; mutation: string } {
  const lines = text.split('\n');
  const i = int(r, lines.length);
  const what = pick(r, ['number', 'delete', 'garbage', 'type'] as const);
  // Work sizes (samples, epochs, rounds) only shrink or go invalid: a valid recipe that asks for an hour of training is not a hang.
  const work = /samples|epochs|rounds/.test(lines[i] ?? '');
  if (what === 'number') lines[i] = (lines[i] ?? '').replace(/\d+(\.\d+)?/, String(pick(r, work ? [-1, 0, 0.5, 1e308] : [-1, 0, 1e308, 1e9, 0.5, 99])));
  else if (what === 'delete') lines.splice(i, 1);
  else if (what === 'garbage') lines[i] = pick(r, ['{{{', ': : :', '- [', 'model: /etc/passwd', 'layers: 5', '\u001b[2J']);
  else lines[i] = (lines[i] ?? '').replace(/: .*/, ': [1, 2]');
  return { text: lines.join('\n'), mutation: `text:${what}` };
}

/**
 * Case `index` of the run seeded `seed`: a kind (round robin), then a mutation (about one in
 * twelve a bomb, a third field-level for ONNX) and the command that reads the file.
 *
 * ```ts
 * const c = fuzzCase(1, 0); // c.kind === 'onnx'
 * ```
 */
export function fuzzCase(seed: number, index: number, kinds: readonly Kind[] = KINDS): FuzzCase {
  const r = rng(seed * 1_000_003 + index);
  const kind = kinds[index % kinds.length] as Kind;
  const b = base();
  const id = `${seed}-${index}`;
  const isBomb = r() < 1 / 12;
  const bombed = isBomb ? bomb(kind, r) : undefined;
  switch (kind) {
    case 'onnx': {
      const mut = r() < 0.4 ? onnxFieldMutation(r, b.model) : byteMutation(r, b.model);
      const files = new Map([['m.onnx', mut.bytes]]);
      const cmd = pick(r, ['info', 'eval', 'quantize'] as const);
      // eval and quantize read the fuzzer's 64-image IDX set, not the 70,000 MNIST images: the
      // model is what is mutated here, and reading MNIST cost each case more than the model did.
      if (cmd !== 'info') for (const [k, v] of b.idx) files.set(`data/${k}`, v);
      const data = ['--data', 'data'];
      const args =
        cmd === 'info'
          ? ['info', '--model', 'm.onnx', '--json']
          : cmd === 'eval'
            ? ['eval', '--model', 'm.onnx', ...data, '--eval-limit', '64', '--threads', '1', '--json']
            : ['quantize', '--model', 'm.onnx', '--scheme', 'dynamic', ...data, '--eval-limit', '64', '--threads', '1', '--out', 'out/q.onnx', '--json'];
      return { id, kind, mutation: mut.mutation, files, args, outputs: cmd === 'quantize' ? ['out/q.onnx'] : [] };
    }
    case 'wtl': {
      const mut = bombed ?? { files: new Map([['m.wtl', byteMutation(r, b.wtl).bytes]]), mutation: 'bytes' };
      const verify = r() < 0.5 ? ['--verify'] : [];
      return {
        id,
        kind,
        mutation: mut.mutation,
        files: mut.files,
        args: ['decode', '--model', 'm.wtl', '--out', 'out/d.onnx', ...verify, '--json'],
        outputs: ['out/d.onnx'],
      };
    }
    case 'idx': {
      let files: Map<string, Uint8Array>;
      let mutation: string;
      if (bombed !== undefined) ({ files, mutation } = bombed);
      else {
        files = new Map(b.idx);
        const name = pick(r, [...files.keys()]);
        const mut = byteMutation(r, files.get(name) as Uint8Array);
        const gz = r() < 0.3;
        files.set(name, gz ? gzipSync(mut.bytes) : mut.bytes);
        mutation = `${mut.mutation}${gz ? '+gzip' : ''}:${name}`;
      }
      const data = new Map([...files].map(([k, v]) => [`data/${k}`, v]));
      data.set('m.onnx', b.model);
      return { id, kind, mutation, files: data, args: ['eval', '--model', 'm.onnx', '--data', 'data', '--threads', '1', '--json'], outputs: [] };
    }
    case 'npy': {
      let files: Map<string, Uint8Array>;
      let mutation: string;
      if (bombed !== undefined) ({ files, mutation } = bombed);
      else {
        const which = r() < 0.7 ? 'x' : 'labels';
        const mut = byteMutation(r, which === 'x' ? b.npy : b.labels);
        files = new Map([
          ['x.npy', which === 'x' ? mut.bytes : b.npy],
          ['labels.npy', which === 'labels' ? mut.bytes : b.labels],
        ]);
        mutation = `${mut.mutation}:${which}`;
      }
      files.set('m.onnx', b.model);
      return { id, kind, mutation, files, args: ['eval', '--model', 'm.onnx', '--data', 'x.npy', '--threads', '1', '--json'], outputs: [] };
    }
    case 'npz': {
      const mut = bombed ?? { files: new Map([['data.npz', byteMutation(r, b.npz).bytes]]), mutation: 'bytes' };
      const files = new Map(mut.files);
      files.set('m.onnx', b.model);
      return { id, kind, mutation: mut.mutation, files, args: ['eval', '--model', 'm.onnx', '--data', 'data.npz', '--threads', '1', '--json'], outputs: [] };
    }
    case 'recipe': {
      let files: Map<string, Uint8Array>;
      let mutation: string;
      if (bombed !== undefined) ({ files, mutation } = bombed);
      else {
        const mut = textMutation(r, RECIPE('m.onnx'));
        files = new Map([['r.yaml', new TextEncoder().encode(mut.text)]]);
        mutation = mut.mutation;
      }
      files.set('m.onnx', b.model);
      return { id, kind, mutation, files, args: ['compress', '--recipe', 'r.yaml', '--out', 'out', '--json'], outputs: ['out/model.wtl', 'out/model.onnx'] };
    }
  }
}
