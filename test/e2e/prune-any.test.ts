// `whittle prune` on models Whittle did not make (test/fixtures/corpus): one-shot magnitude pruning
// needs no training data, so a torchvision export is pruned (filters thinned away, or weights
// zeroed) with its agreement against the input measured on .npy samples or random inputs; the
// agreement's max |err| is checked against onnxruntime run here on both files.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readNpy } from '../../src/data/npy.js';
import { tempDir, whittle } from './cli.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));
const dir = tempDir();
const MODEL = join(CORPUS, 'resnet18.opset17.onnx');
const IMAGES = join(CORPUS, 'images32.input.npy');

/** The largest |a − b| over the outputs of two models on the same .npy input (onnxruntime-node, run here). */
async function maxAbsDiff(a: string, b: string, npy: string): Promise<number> {
  const x = readNpy(npy);
  const [sa, sb] = await Promise.all([ort.InferenceSession.create(readFileSync(a)), ort.InferenceSession.create(readFileSync(b))]);
  const feed = (s: ort.InferenceSession) => ({ [s.inputNames[0] as string]: new ort.Tensor('float32', x.data as Float32Array, x.dims) });
  const [ya, yb] = [await sa.run(feed(sa)), await sb.run(feed(sb))];
  const [va, vb] = [ya[sa.outputNames[0] as string]?.data as Float32Array, yb[sb.outputNames[0] as string]?.data as Float32Array];
  assert.equal(va.length, vb.length);
  let worst = 0;
  for (let i = 0; i < va.length; i++) worst = Math.max(worst, Math.abs((va[i] as number) - (vb[i] as number)));
  return worst;
}

interface Group {
  name: string;
  channelsBefore: number;
  channelsAfter: number;
}

test('prune --granularity channel on a torchvision ResNet-18 with .npy samples: filters thinned, FLOPs down, agreement from the samples', async () => {
  const out = join(dir, 'resnet18-thin.onnx');
  const r = whittle(['prune', '--model', MODEL, '--granularity', 'channel', '--sparsity', '0.25', '--data', IMAGES, '--threads', '1', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as Record<string, unknown>;
  assert.equal(j['bytes'], statSync(out).size);
  assert.ok((j['flops'] as number) < 0.8 * (j['flopsBefore'] as number), `FLOPs ${j['flops']} of ${j['flopsBefore']}`);
  const groups = j['groups'] as Group[];
  assert.ok(groups.some((g) => g.channelsAfter < g.channelsBefore));
  for (const g of groups) assert.equal(g.channelsAfter, Math.ceil(0.75 * g.channelsBefore), g.name);
  const agreement = j['agreement'] as { inputs: string; samples: number; outputs: { maxAbsError: number; cosine: number }[] };
  assert.equal(agreement.inputs, 'data');
  assert.equal(agreement.samples, readNpy(IMAGES).dims[0]);
  const reported = agreement.outputs[0]?.maxAbsError ?? Number.NaN;
  const measured = await maxAbsDiff(MODEL, out, IMAGES);
  assert.ok(measured > 0 && Math.abs(reported - measured) <= 1e-4 * Math.max(1, measured), `reported ${reported}, measured here ${measured}`);
  assert.equal(j['accuracy'], null, 'no labels, no accuracy');
});

test('prune --sparsity on a torchvision model without --data: weights zeroed, agreement on random inputs', () => {
  const out = join(dir, 'resnet18-sparse.onnx');
  const r = whittle(['prune', '--model', MODEL, '--sparsity', '0.5', '--threads', '1', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as Record<string, unknown>;
  assert.equal(j['granularity'], 'weight');
  assert.equal(j['params'], j['paramsBefore']);
  assert.ok((j['nonzeroParams'] as number) < 0.55 * (j['paramsBefore'] as number), `${j['nonzeroParams']} nonzero of ${j['paramsBefore']}`);
  assert.equal((j['agreement'] as { inputs: string }).inputs, 'random');
  assert.match(r.stderr, /agreement with the input model on 64 random inputs/);
});

test('prune asking for training on a model that does not read MNIST is one clear error, and writes nothing', () => {
  const out = join(dir, 'never.onnx');
  const r = whittle(['prune', '--model', MODEL, '--sparsity', '0.5', '--fine-tune-epochs', '2', '--out', out]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--fine-tune-epochs 2 trains or probes on labelled samples: pass --data .*without data, prune without training/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.throws(() => statSync(out));
});
