// What each stage of `optimize`'s final costs on one candidate: the candidate applied to the input
// as the final does (compressCandidate on the whole training side of the split), printing the
// validation accuracy after each stage (sparse float model; weights shared; centroids tuned), the
// training curve, the bytes and the seconds. Validation only: the test set is never read. Prints,
// never asserts.
// usage: node dist/bench/optimize-final.js CONFIG.json
// CONFIG: { "name", "model": "lenet-300-100.onnx", "epochs": 16, "candidate": { layers, lr, mode?, exact? },
//   "distill"?: { "temperature": 4, "alpha": 0.7 }, "centroidEpochs"?, "centroidLr"?, "seed"? (1),
//   "splitSeed"? (1), "normalization"? ("x/255"), "teachers"? (["lenet-5.onnx", …]: distil from these instead of the
//   model, each fed the normalization it recorded), "shift"? (px: training images shifted) }
import { readFileSync } from 'node:fs';
import type { Normalization } from '../src/data/index.js';
import { parseNormalization } from '../src/data/index.js';
import { decodeModel } from '../src/ir/onnx.js';
import { NORMALIZE_KEY, withNormalization } from '../src/pipeline/index.js';
import { compressCandidate } from '../src/search/compress.js';
import { searchData } from '../src/search/data.js';
import type { Candidate } from '../src/search/types.js';
import { evaluate } from '../src/train/evaluate.js';

interface Config {
  name: string;
  model: string;
  epochs: number;
  candidate: Candidate;
  distill?: { temperature: number; alpha: number };
  centroidEpochs?: number;
  centroidLr?: number;
  seed?: number;
  splitSeed?: number;
  normalization?: Normalization;
  teachers?: string[];
  shift?: number;
}

const path = process.argv[2];
if (path === undefined) throw new Error('usage: node dist/bench/optimize-final.js CONFIG.json');
const cfg = JSON.parse(readFileSync(path, 'utf8')) as Config;
const normalization = cfg.normalization ?? 'x/255';
const model = withNormalization(decodeModel(readFileSync(cfg.model), cfg.model), normalization);
const data = await searchData({ valSplit: 0.1, splitSeed: cfg.splitSeed ?? 1, trainSamples: 0, valSamples: 0 }, model);
const teachers = (cfg.teachers ?? []).map((p) => decodeModel(readFileSync(p), p));
const teacherSet =
  teachers.length > 0
    ? { teacher: teachers, teacherNormalization: teachers.map((t) => parseNormalization(t.metadata[NORMALIZE_KEY] ?? normalization)) }
    : { teacher: model };
const t0 = performance.now();
const at = (): string => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
const val = async (m: typeof model): Promise<string> => `${(100 * (await evaluate(m, data.validation, { normalization, threads: 1 })).accuracy).toFixed(2)}%`;
const r = await compressCandidate(model, cfg.candidate, data.train, {
  epochs: cfg.epochs,
  batchSize: 64,
  normalization,
  seed: cfg.seed ?? 1,
  threads: 1,
  klWeight: 1 / data.train.count,
  ...(cfg.centroidEpochs !== undefined ? { centroidEpochs: cfg.centroidEpochs } : {}),
  ...(cfg.centroidLr !== undefined ? { centroidLr: cfg.centroidLr } : {}),
  ...(cfg.distill !== undefined ? { ...teacherSet, distill: cfg.distill } : {}),
  ...(cfg.shift !== undefined ? { shift: cfg.shift } : {}),
  onProgress: (e) => {
    if (e.type === 'epoch')
      console.log(`${cfg.name} epoch ${e.record.epoch} loss ${e.record.loss.toFixed(4)} train ${(100 * e.record.trainAccuracy).toFixed(2)}% at ${at()}`);
  },
  onStage: async (stage, m) => console.log(`${cfg.name} ${stage}: validation ${await val(m)} at ${at()}`),
});
console.log(`${cfg.name} done: ${r.file.length} bytes, validation ${await val(r.model)}, ${at()}`);
