import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { WhittleError } from '../ir/errors.js';
import { encodeModel } from '../ir/onnx.js';
import { modelStats } from '../ir/stats.js';
import type { Signature } from '../ir/stats.js';
import { probeShapes } from '../runtime/probe.js';
import { sparseStats } from '../compress/prune/sparse.js';
import { SHAPE_RULES } from '../ops/index.js';
import { subset } from '../data/index.js';
import type { Normalization } from '../data/index.js';
import { evaluate } from '../train/evaluate.js';
import { BACKENDS } from '../runtime/session.js';
import type { Backend } from '../runtime/session.js';
import { train } from '../train/trainer.js';
import { addTrainFlags, emit, int, toTrainOptions } from './flags.js';
import type { TrainFlags } from './flags.js';
import type { Model } from '../ir/graph.js';
import { demoCompression } from './compress.js';
import { createReporter } from './progress.js';
import { loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, zooShapeFor } from './load.js';

/** The shared body of `train` and `demo`. */
async function runTrain(f: TrainFlags, label = 'train', onTrained?: (model: Model) => void): Promise<Record<string, unknown>> {
  const data = loadData(f.data);
  const { model, path } = loadModel(f.model, { seed: f.seed, ...zooShapeFor(data.train) });
  const normalization = resolveNormalization(f.normalize, model);
  const checkpointPath = f.checkpoint ?? (f.out !== undefined ? `${f.out}.ckpt` : undefined);
  if (f.resume && checkpointPath === undefined) throw new WhittleError('BAD_ARGUMENT', '--resume needs --checkpoint PATH or --out PATH (the checkpoint is PATH.ckpt)');
  let stop = false;
  const onSigint = (): void => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\nwhittle: interrupted; saving a checkpoint (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  const reporter = createReporter({ label });
  const t0 = performance.now();
  try {
    const trainSet = f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train;
    const result = await train(model, trainSet, {
      ...toTrainOptions(f, normalization),
      validation: data.test,
      checkpointPath,
      resume: f.resume,
      shouldStop: () => stop,
      onProgress: reporter,
    });
    reporter.stop();
    if (result.status === 'interrupted') {
      process.stderr.write(`whittle: stopped at epoch ${result.epochs + 1}; checkpoint ${checkpointPath ?? '(none: pass --out or --checkpoint)'}; continue with the same command plus --resume\n`);
      process.exitCode = 130;
    }
    const trained = { ...result.model, metadata: { ...result.model.metadata, [NORMALIZE_KEY]: normalization } };
    if (result.status !== 'interrupted') onTrained?.(trained);
    const last = result.history[result.history.length - 1];
    let bytes: number | undefined;
    if (f.out !== undefined && result.status !== 'interrupted') bytes = saveModel(trained, f.out, path);
    return {
      model: f.model,
      status: result.status,
      accuracy: last?.valAccuracy ?? null,
      loss: last?.valLoss ?? null,
      trainLoss: last?.loss ?? null,
      trainAccuracy: last?.trainAccuracy ?? null,
      epochs: result.epochs,
      samplesPerSec: Math.round(result.samplesPerSec),
      seconds: (performance.now() - t0) / 1000,
      out: f.out ?? null,
      bytes: bytes ?? null,
      normalize: normalization,
      history: result.history,
    };
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function registerCommands(program: Command): void {
  addTrainFlags(program.command('train').description('train a zoo model or fine-tune an .onnx model on MNIST-format data').requiredOption('--model <zoo|file.onnx>', 'zoo name (lenet-300-100, lenet-5, resnet-cifar, mlp:784-100-10) or .onnx file'), {
    epochs: 10,
    lr: 0.05,
    optimizer: 'momentum',
  }).action(async (f: TrainFlags) => emit(Boolean(f.json), await runTrain(f)));

  program
    .command('info')
    .description('parameters, nonzeros, bytes, FLOPs and op counts of a model')
    .requiredOption('--model <file.onnx>', 'model file (or a zoo name)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: { model: string; json?: boolean }) => {
      const { model, path } = loadModel(f.model);
      let s = modelStats(model, SHAPE_RULES);
      // Ops without a shape rule: ask onnxruntime for the shapes, so their FLOPs count too.
      if (s.unknownShapeNodes > 0) {
        const known = await probeShapes(model);
        if (known.size > 0) s = modelStats(model, SHAPE_RULES, { known });
      }
      const sparse = sparseStats(model);
      const bytes = path !== undefined ? statSync(path).size : encodeModel(model).length;
      const ops = Object.entries(s.ops)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}×${v}`)
        .join(' ');
      const sig = (v: Signature): string => (v.type !== undefined ? `${v.name} ${v.type}` : `${v.name} ${v.dtype}[${v.shape.join(',')}]`);
      const unknown = s.unknownShapeNodes > 0 ? ` (${s.unknownShapeNodes} node(s) of unknown shape not counted)` : '';
      process.stderr.write(
        `${f.model}: ${s.params.toLocaleString('en-US')} params (${s.nonzeroParams.toLocaleString('en-US')} nonzero), ${bytes.toLocaleString('en-US')} bytes (weights ${sparse.denseBytes.toLocaleString('en-US')} dense, ${sparse.sparseBytes.toLocaleString('en-US')} sparse), ${(s.flops / 1e6).toFixed(2)} MFLOPs/sample${unknown}\n  inputs: ${s.inputs.map(sig).join(', ')}\n  outputs: ${s.outputs.map(sig).join(', ')}\n  opsets: ${model.opsetImports.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}\n  ops: ${ops}\n`,
      );
      emit(Boolean(f.json), { model: f.model, params: s.params, nonzeroParams: s.nonzeroParams, bytes, parameterBytes: s.parameterBytes, denseBytes: sparse.denseBytes, sparseBytes: sparse.sparseBytes, flops: s.flops, macs: s.macs, unknownShapeNodes: s.unknownShapeNodes, ops: s.ops, opsets: model.opsetImports, inputs: s.inputs, outputs: s.outputs, metadata: model.metadata });
    });

  addTrainFlags(program.command('demo').description('the main job on the bundled MNIST: train LeNet-300-100, report test accuracy, then Deep-Compress it (Table 1)'), { epochs: 10, lr: 0.05, optimizer: 'momentum' })
    .option('--model <zoo|file.onnx>', 'model', 'lenet-300-100')
    .option('--no-compress', 'skip the Deep Compression part (prune → k-means → Huffman, Table 1)')
    .option('--compress-out <dir>', 'where the demo writes model.wtl and model.onnx (default: OUT.dc, else a temporary directory)')
    .action(async (f: TrainFlags & { compress: boolean; compressOut?: string }) => {
      process.stderr.write(`whittle demo: training ${f.model} on MNIST for ${f.epochs} epoch(s), batch ${f.batch}, ${f.optimizer} lr ${f.lr}, ${f.threads} thread(s)\n`);
      let trained: Model | undefined;
      const r = await runTrain(f, 'demo', (m) => (trained = m));
      process.stderr.write(`whittle demo: test accuracy ${(100 * Number(r['accuracy'])).toFixed(2)}% after ${String(r['epochs'])} epoch(s), ${String(r['samplesPerSec'])} samples/s${f.out ? `; model written to ${f.out}` : ''}\n`);
      if (f.compress && trained !== undefined) {
        const out = f.compressOut ?? (f.out !== undefined ? `${f.out}.dc` : undefined);
        const c = await demoCompression(trained, { data: f.data, normalization: r['normalize'] as Normalization, threads: f.threads, out, seed: f.seed, samples: f.samples });
        if (c !== undefined) r['compression'] = c;
      }
      emit(Boolean(f.json), r);
    });
}
