// `whittle eval`: accuracy on MNIST/CIFAR as before; for any model, its outputs on `--data` (any
// form loadDataForModel reads) or on seeded random inputs; with `--reference`, output agreement.
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { feedInputs, firstSamples, loadDataForModel, subset, tensorDatasetFromImages } from '../data/index.js';
import type { Model } from '../ir/graph.js';
import type { OutputAgreement } from '../train/agreement.js';
import { runnableRandomData } from '../train/random-inputs.js';
import { compareModels, evaluateTensors } from '../train/compare.js';
import type { ModelComparison } from '../train/compare.js';
import { evaluate } from '../train/evaluate.js';
import { BACKENDS } from '../runtime/session.js';
import type { Backend } from '../runtime/session.js';
import type { ImageFlags } from './flags.js';
import { addImageFlags, addSummary, emit, imageOptions, int } from './flags.js';
import { loadData, loadModel, resolveNormalization, usesImageDataset, zooShapeFor } from './load.js';

interface EvalFlags extends ImageFlags {
  model: string;
  reference?: string;
  data?: string;
  normalize?: string;
  threads: number;
  evalLimit?: number;
  batch: number;
  seed: number;
  runtime: Backend;
  json?: boolean;
}

/** Agreement figures as JSON: no Infinity (identical outputs have `sqnrDb: null`, `exact: true`). */
export function agreementJson(outputs: readonly OutputAgreement[]): Record<string, unknown>[] {
  return outputs.map((o) => ({
    name: o.name,
    top1: o.top1 ?? null,
    cosine: o.cosine,
    maxAbsError: o.maxAbsError,
    meanAbsError: o.meanAbsError,
    sqnrDb: Number.isFinite(o.sqnrDb) ? o.sqnrDb : null,
    exact: o.exact,
    values: o.values,
  }));
}

/** One stderr line per output. */
export function describeAgreement(cmp: ModelComparison): string {
  return cmp.outputs
    .map(
      (o) =>
        `  ${o.name}: ${o.top1 !== undefined ? `top-1 agreement ${(100 * o.top1).toFixed(2)}%, ` : ''}cosine ${o.cosine.toFixed(6)}, max |err| ${o.maxAbsError.toPrecision(3)}, mean |err| ${o.meanAbsError.toPrecision(3)}, SQNR ${Number.isFinite(o.sqnrDb) ? `${o.sqnrDb.toFixed(1)} dB` : '∞ (identical)'}\n`,
    )
    .join('');
}

// MNIST/CIFAR images shaped for the model's one input (flattened for an MLP).
export function imagesAsTensors(model: Model, images: Dataset, normalization: Normalization, source: string): TensorDataset {
  const info = feedInputs(model)[0];
  const per = info?.shape.slice(1) ?? [];
  return tensorDatasetFromImages(images, {
    name: info?.name ?? 'input',
    normalization,
    source,
    ...(per.every((d): d is number => typeof d === 'number') ? { shape: per } : {}),
  });
}

/** The first `limit` images (all without one): converted to tensors after the cut, not before. */
export function firstImages(images: Dataset, limit: number | undefined): Dataset {
  return limit === undefined || limit >= images.count ? images : subset(images, 0, limit);
}

/** `loaded`: the model when the caller has loaded it already (a file: the zoo shape does not apply). */
async function evalImageDataset(f: EvalFlags, loaded: Model | undefined): Promise<Record<string, unknown>> {
  const data = loadData(f.data);
  const model = loaded ?? loadModel(f.model, { ...zooShapeFor(data.test), asShipped: true }).model;
  const normalization = resolveNormalization(f.normalize, model);
  const r = await evaluate(model, data.test, { normalization, threads: f.threads, limit: f.evalLimit, backend: f.runtime });
  addSummary(
    `eval ${f.model}${f.runtime === 'web' ? ' (onnxruntime-web, WebAssembly)' : ''}: accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.correct}/${r.samples}), loss ${r.loss.toFixed(4)}\n`,
  );
  const out: Record<string, unknown> = {
    model: f.model,
    accuracy: r.accuracy,
    loss: r.loss,
    samples: r.samples,
    correct: r.correct,
    errors: r.samples - r.correct,
    normalize: normalization,
    runtime: f.runtime,
  };
  if (f.reference !== undefined) {
    const reference = loadModel(f.reference, { ...zooShapeFor(data.test), asShipped: true }).model;
    const images = imagesAsTensors(model, firstImages(data.test, f.evalLimit), normalization, f.data ?? 'mnist');
    const cmp = await compareModels(model, reference, images, {
      threads: f.threads,
      backend: f.runtime,
      batchSize: f.batch,
    });
    addSummary(
      `agreement with ${f.reference} on ${cmp.samples} samples (reference accuracy ${(100 * (cmp.referenceAccuracy ?? 0)).toFixed(2)}%):\n${describeAgreement(cmp)}`,
    );
    Object.assign(out, { reference: f.reference, referenceAccuracy: cmp.referenceAccuracy ?? null, inputs: 'data', agreement: agreementJson(cmp.outputs) });
  }
  return out;
}

async function evalAnyModel(f: EvalFlags, model: Model): Promise<Record<string, unknown>> {
  const reference = f.reference === undefined ? undefined : loadModel(f.reference, { asShipped: true }).model;
  const options = imageOptions(f);
  // Random inputs are shaped like the reference's when there is one: it is the model the data was meant for.
  const shapeModel: Model = reference ?? model;
  let data: TensorDataset =
    f.data !== undefined
      ? loadDataForModel(shapeModel, f.data, options)
      : await runnableRandomData(shapeModel, { count: f.evalLimit ?? 64, seed: f.seed, threads: f.threads });
  if (f.evalLimit !== undefined) data = firstSamples(data, f.evalLimit);
  const inputs = f.data === undefined ? 'random' : 'data';
  const runOptions = { threads: f.threads, backend: f.runtime, batchSize: f.batch };
  const base = { model: f.model, data: f.data ?? null, inputs, samples: data.count, runtime: f.runtime };
  const where = `${data.count} ${inputs === 'random' ? `random samples (seed ${f.seed})` : `samples of ${f.data}`}`;
  if (reference === undefined) {
    const r = await evaluateTensors(model, data, runOptions);
    addSummary(
      `eval ${f.model} on ${where}: ${r.accuracy !== undefined ? `accuracy ${(100 * r.accuracy).toFixed(2)}%; ` : ''}outputs ${r.outputs.map((o) => `${o.name} ${o.dtype}[${o.dims.join(',')}]`).join(', ')}\n`,
    );
    return { ...base, accuracy: r.accuracy ?? null, outputs: r.outputs };
  }
  const cmp = await compareModels(model, reference, data, runOptions);
  const acc =
    cmp.accuracy !== undefined ? `; accuracy ${(100 * cmp.accuracy).toFixed(2)}% (reference ${(100 * (cmp.referenceAccuracy ?? 0)).toFixed(2)}%)` : '';
  addSummary(`eval ${f.model} against ${f.reference} on ${where}${acc}:\n${describeAgreement(cmp)}`);
  return {
    ...base,
    reference: f.reference,
    accuracy: cmp.accuracy ?? null,
    referenceAccuracy: cmp.referenceAccuracy ?? null,
    agreement: agreementJson(cmp.outputs),
  };
}

export function registerEvalCommands(program: Command): void {
  addImageFlags(
    program
      .command('eval')
      .description('accuracy of a model on the test split, or its outputs on any data; --reference: agreement with another model (no labels needed)')
      .requiredOption('--model <file.onnx>', 'model to evaluate (or a zoo name, untrained)')
      .option(
        '--reference <file.onnx>',
        'compare the outputs with this model (e.g. the float original of a quantized model): top-1 agreement, cosine, max/mean |error|, SQNR',
      )
      .option(
        '--data <path>',
        'MNIST-format IDX or CIFAR-10 directory; or for any model: .npy, .npz (keys = input names), a directory of .npy, a folder of PNG/JPEG images (class sub-folders), a .jsonl of named inputs; labels from labels.npy / a labels key / "label" (default: the bundled MNIST, or random inputs for other models)',
      ),
  )
    .option('--normalize <how>', 'MNIST/CIFAR input normalization (default: what the model recorded, else x/255)')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1), availableParallelism())
    .option('--eval-limit <n>', 'evaluate only the first N samples (random inputs: how many, default 64)', int('--eval-limit', 1))
    .option('--batch <n>', 'samples per run', int('--batch', 1), 256)
    .option('--seed <n>', 'seed of the random inputs', int('--seed', 0), 0)
    .addOption(
      new Option(
        '--runtime <name>',
        "node: onnxruntime-node; web: onnxruntime-web's WebAssembly backend, as a browser runs it (one thread; needs the onnxruntime-web package)",
      )
        .choices([...BACKENDS])
        .default('node'),
    )
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: EvalFlags) => {
      // Loaded at most once: the image-dataset check may already need it.
      let model: Model | undefined;
      const load = (): Model => (model ??= loadModel(f.model, { asShipped: true }).model);
      emit(Boolean(f.json), usesImageDataset(f, load) ? await evalImageDataset(f, model) : await evalAnyModel(f, load()));
    });
}

/**
 * `agreement` of a transform's JSON: the result against its input model on the evaluation
 * samples (the first `limit` of the test split), per output.
 */
export async function agreementWithInput(
  result: Model,
  input: Model,
  test: Dataset,
  normalization: Normalization,
  f: { threads: number; evalLimit?: number },
): Promise<Record<string, unknown>> {
  const images = imagesAsTensors(input, firstImages(test, f.evalLimit), normalization, 'test split');
  const cmp = await compareModels(result, input, images, { threads: f.threads });
  return { inputs: 'data', samples: cmp.samples, outputs: agreementJson(cmp.outputs) };
}
