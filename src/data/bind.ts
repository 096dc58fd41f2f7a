// Fitting arrays to a model's inputs: names, shapes (dynamic dimensions come from the data) and
// dtypes, with one clear error for anything that does not fit.
import { WhittleError } from '../ir/errors.js';
import type { Dim, Model, ValueInfo } from '../ir/graph.js';
import type { TensorData } from '../ir/tensor.js';
import { allocate, sizeOf } from '../ir/tensor.js';
import type { NpyArray } from './npy.js';
import { createRng } from './rng.js';
import type { SampleTensor, TensorDataset } from './tensor-dataset.js';
import { castData, createTensorDataset } from './tensor-dataset.js';

/** The inputs a caller feeds: the graph's inputs (initializers are not among them). */
export function feedInputs(model: Model): ValueInfo[] {
  return model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name));
}

const fmt = (dims: readonly Dim[]): string => `[${dims.join(', ')}]`;

/**
 * The batch size a model's inputs fix (a static first dimension, e.g. 1 in many exports), or
 * undefined when the batch dimension is dynamic.
 *
 * ```ts
 * fixedBatchSize(model); // 1 for an input shaped [1, 3, 224, 224]
 * ```
 */
export function fixedBatchSize(model: Model): number | undefined {
  for (const i of feedInputs(model)) if (typeof i.shape[0] === 'number') return i.shape[0];
  return undefined;
}

/**
 * Binds named arrays (leading axis = samples) to the model's inputs. Arrays match inputs by
 * name; a single array feeds a single-input model whatever its name, and positional names
 * (`arr_0`, ... from numpy.savez) match inputs in order. An array one rank short of its input is
 * one sample.
 *
 * ```ts
 * const ds = bindArrays(model, new Map([['x', readNpy('x.npy')]]), { source: 'x.npy' });
 * ```
 */
export function bindArrays(
  model: Model,
  arrays: ReadonlyMap<string, NpyArray>,
  options: { source: string; labels?: Int32Array; classes?: readonly string[] },
): TensorDataset {
  const { source } = options;
  const inputs = feedInputs(model);
  if (inputs.length === 0) throw new WhittleError('INVALID_GRAPH', 'the model has no inputs to feed');
  const names = [...arrays.keys()];
  const byInput = new Map<string, NpyArray>();
  const inputNames = inputs.map((i) => i.name);
  if (names.every((n) => inputNames.includes(n))) for (const [n, a] of arrays) byInput.set(n, a);
  else if (names.length === 1 && inputs.length === 1) byInput.set(inputNames[0] as string, arrays.get(names[0] as string) as NpyArray);
  else if (names.length === inputs.length && names.every((n, k) => n === `arr_${k}`))
    names.forEach((n, k) => byInput.set(inputNames[k] as string, arrays.get(n) as NpyArray));
  else {
    const extra = names.filter((n) => !inputNames.includes(n));
    throw new WhittleError(
      'BAD_DATA',
      `${source}: array${extra.length > 1 ? 's' : ''} ${extra.map((n) => `"${n}"`).join(', ')} match${extra.length > 1 ? '' : 'es'} no model input; the model's inputs are ${inputNames.map((n) => `"${n}"`).join(', ')}: name the arrays after them`,
    );
  }
  const missing = inputNames.filter((n) => !byInput.has(n));
  if (missing.length > 0)
    throw new WhittleError(
      'BAD_DATA',
      `${source} has no data for model input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')}; give one array per input, named after it`,
    );
  const symbols = new Map<string, { value: number; input: string }>();
  const samples: SampleTensor[] = [];
  let count: number | undefined;
  let countFrom = '';
  for (const info of inputs) {
    const a = byInput.get(info.name) as NpyArray;
    const rank = info.shape.length;
    const expected = `input "${info.name}" expects ${fmt(info.shape)}`;
    if (rank === 0)
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `${source}: ${expected} (a scalar, no batch axis); Whittle feeds batches of samples: re-export the model with a batch axis`,
      );
    // One rank short: a single sample.
    const dims = a.dims.length === rank - 1 ? [1, ...a.dims] : a.dims;
    if (dims.length !== rank)
      throw new WhittleError('SHAPE_MISMATCH', `${source}: ${expected}, found ${fmt(a.dims)}; give the array the model's shape (leading axis = samples)`);
    for (let k = 1; k < rank; k++) {
      const want = info.shape[k] as Dim;
      const have = dims[k] as number;
      if (typeof want === 'number' && want !== have) {
        throw new WhittleError(
          'SHAPE_MISMATCH',
          `${source}: ${expected} (per sample ${fmt(info.shape.slice(1))}), found ${fmt(dims)}; axis ${k} should be ${want}`,
        );
      }
      if (typeof want === 'string' && want !== '') {
        const seen = symbols.get(want);
        if (seen !== undefined && seen.value !== have) {
          throw new WhittleError(
            'SHAPE_MISMATCH',
            `${source}: dimension "${want}" is ${seen.value} in input "${seen.input}" but ${have} in input "${info.name}" (${fmt(dims)}); inputs sharing a dimension need the same size`,
          );
        }
        symbols.set(want, { value: have, input: info.name });
      }
    }
    const n = dims[0] as number;
    if (count === undefined) (count = n), (countFrom = info.name);
    else if (n !== count)
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `${source}: input "${info.name}" has ${n} samples (${fmt(dims)}), input "${countFrom}" has ${count}; every input needs the same number of samples`,
      );
    const data = castData(a.data, a.dtype, info.dtype, `${source}: input "${info.name}"`);
    samples.push({ name: info.name, dtype: info.dtype, shape: dims.slice(1), data });
  }
  const batch = fixedBatchSize(model);
  if (batch !== undefined && (count as number) % batch !== 0) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `${source}: the model's inputs fix the batch at ${batch} (${fmt(inputs[0]?.shape ?? [])}) and the data has ${count} samples; give a multiple of ${batch}`,
    );
  }
  if (count === 0) throw new WhittleError('BAD_DATA', `${source} has no samples`);
  return createTensorDataset({ inputs: samples, labels: options.labels, classes: options.classes, source });
}

/** Options of `randomTensorDataset`. */
export interface RandomDataOptions {
  /** Samples; default 64 (a multiple of the model's fixed batch, if any). */
  count?: number;
  seed?: number;
  /**
   * Size given to dynamic dimensions other than the batch; default 16, and 32 for those of 4-D
   * (image) inputs: CNNs that halve the resolution five times (detectors and segmenters with FPN
   * upsampling, e.g. PaddleOCR's DBNet) accept only multiples of 32.
   */
  dynamicSize?: number;
}

/**
 * Random samples shaped like the model's inputs, for comparing models without data: floats
 * uniform in [0, 1), integers and booleans 0 or 1 (safe as token ids, type ids and masks).
 *
 * ```ts
 * const ds = randomTensorDataset(model, { count: 32, seed: 0 }); // ds.source === 'random'
 * ```
 */
export function randomTensorDataset(model: Model, options: RandomDataOptions = {}): TensorDataset {
  const batch = fixedBatchSize(model);
  const wanted = options.count ?? 64;
  const count = batch === undefined ? wanted : Math.max(batch, Math.floor(wanted / batch) * batch);
  const rng = createRng(options.seed ?? 0);
  const symbols = new Map<string, number>();
  const inputs: SampleTensor[] = feedInputs(model).map((info) => {
    if (info.shape.length === 0)
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `input "${info.name}" is a scalar (no batch axis); Whittle feeds batches of samples: re-export the model with a batch axis`,
      );
    const shape = info.shape.slice(1).map((d) => {
      if (typeof d === 'number') return d;
      const size = symbols.get(d) ?? options.dynamicSize ?? (info.shape.length === 4 ? 32 : 16);
      if (d !== '') symbols.set(d, size);
      return size;
    });
    const n = count * sizeOf(shape);
    const data: TensorData = allocate(info.dtype === 'float16' ? 'float32' : info.dtype, n);
    const isFloat = info.dtype === 'float32' || info.dtype === 'float64' || info.dtype === 'float16';
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (data instanceof BigInt64Array) data[i] = u < 0.5 ? 0n : 1n;
      else data[i] = isFloat ? u : u < 0.5 ? 0 : 1;
    }
    return { name: info.name, dtype: info.dtype, shape, data: info.dtype === 'float16' ? castData(data, 'float32', 'float16', info.name) : data };
  });
  return createTensorDataset({ inputs, source: 'random' });
}
