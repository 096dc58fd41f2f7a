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
 * Where each input has its batch axis: 0, unless the batch is a named dimension (the first
 * input's leading one, e.g. `batch`) that the input holds elsewhere (an LSTM state
 * [2, batch, 64]: 1); undefined for a scalar input, which has none and is fed as it is.
 *
 * ```ts
 * batchAxes(sileroVad); // Map { input → 0, sr → undefined, h → 1, c → 1 }
 * ```
 */
export function batchAxes(model: Model): Map<string, number | undefined> {
  const inputs = feedInputs(model);
  const lead = inputs.map((i) => i.shape[0]).find((d) => typeof d === 'string' && d !== '');
  const axes = new Map<string, number | undefined>();
  for (const i of inputs) {
    const at = lead === undefined ? -1 : i.shape.indexOf(lead);
    axes.set(i.name, i.shape.length === 0 ? undefined : at >= 0 ? at : 0);
  }
  return axes;
}

/**
 * The batch size a model's inputs fix (a static batch dimension, e.g. 1 in many exports), or
 * undefined when the batch dimension is dynamic.
 *
 * ```ts
 * fixedBatchSize(model); // 1 for an input shaped [1, 3, 224, 224]
 * ```
 */
export function fixedBatchSize(model: Model): number | undefined {
  const axes = batchAxes(model);
  for (const i of feedInputs(model)) {
    const axis = axes.get(i.name);
    if (axis === undefined) continue;
    const d = i.shape[axis];
    if (typeof d === 'number') return d;
    // A named batch dimension: dynamic.
    if (d !== '') return undefined;
  }
  return undefined;
}

/** `dims` with axis `axis` moved to the front (sample-major data), copying when it is not there. */
function toSampleMajor(a: NpyArray, axis: number): { dims: number[]; data: TensorData } {
  if (axis === 0) return { dims: [...a.dims], data: a.data };
  const n = a.dims[axis] as number;
  const outer = a.dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const inner = a.dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const out = new (a.data.constructor as new (n: number) => TensorData)(a.data.length);
  // [outer, n, inner] → [n, outer, inner]
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < n; i++)
      (out as Float32Array).set((a.data as Float32Array).subarray((o * n + i) * inner, (o * n + i + 1) * inner), (i * outer + o) * inner);
  return { dims: [n, ...a.dims.slice(0, axis), ...a.dims.slice(axis + 1)], data: out };
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
  const axes = batchAxes(model);
  let count: number | undefined;
  let countFrom = '';
  for (const info of inputs) {
    const a = byInput.get(info.name) as NpyArray;
    const rank = info.shape.length;
    const expected = `input "${info.name}" expects ${fmt(info.shape)}`;
    const axis = axes.get(info.name);
    if (axis === undefined) {
      // A scalar input (no batch axis): one value for every sample.
      if (a.dims.length !== 0 && !(a.dims.length === 1 && a.dims[0] === 1))
        throw new WhittleError('SHAPE_MISMATCH', `${source}: ${expected} (a scalar, the same for every sample), found ${fmt(a.dims)}; save it as one value`);
      samples.push({
        name: info.name,
        dtype: info.dtype,
        shape: [],
        data: castData(a.data, a.dtype, info.dtype, `${source}: input "${info.name}"`),
        shared: true,
      });
      continue;
    }
    // One rank short: a single sample.
    const laid = a.dims.length === rank - 1 ? { ...a, dims: [...a.dims.slice(0, axis), 1, ...a.dims.slice(axis)] } : a;
    if (laid.dims.length !== rank)
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `${source}: ${expected}, found ${fmt(a.dims)}; give the array the model's shape (samples on axis ${axis}, the model's batch axis)`,
      );
    const { dims, data: sampleMajor } = toSampleMajor(laid, axis);
    // The model's shape with the batch axis first, as `dims` is.
    const model = [info.shape[axis] as Dim, ...info.shape.slice(0, axis), ...info.shape.slice(axis + 1)];
    for (let k = 1; k < rank; k++) {
      const want = model[k] as Dim;
      const have = dims[k] as number;
      if (typeof want === 'number' && want !== have) {
        throw new WhittleError(
          'SHAPE_MISMATCH',
          `${source}: ${expected} (per sample ${fmt(model.slice(1))}), found ${fmt(laid.dims)}; axis ${k <= axis ? k - 1 : k} should be ${want}`,
        );
      }
      if (typeof want === 'string' && want !== '') {
        const seen = symbols.get(want);
        if (seen !== undefined && seen.value !== have) {
          throw new WhittleError(
            'SHAPE_MISMATCH',
            `${source}: dimension "${want}" is ${seen.value} in input "${seen.input}" but ${have} in input "${info.name}" (${fmt(laid.dims)}); inputs sharing a dimension need the same size`,
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
        `${source}: input "${info.name}" has ${n} samples (${fmt(laid.dims)}), input "${countFrom}" has ${count}; every input needs the same number of samples`,
      );
    const data = castData(sampleMajor, a.dtype, info.dtype, `${source}: input "${info.name}"`);
    samples.push({ name: info.name, dtype: info.dtype, shape: dims.slice(1), data, ...(axis !== 0 ? { batchAxis: axis } : {}) });
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
  const axes = batchAxes(model);
  const inputs: SampleTensor[] = feedInputs(model).map((info) => {
    const axis = axes.get(info.name);
    if (axis === undefined) return scalarInput(model, info);
    const shape = [...info.shape.slice(0, axis), ...info.shape.slice(axis + 1)].map((d) => {
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
    return {
      name: info.name,
      dtype: info.dtype,
      shape,
      data: info.dtype === 'float16' ? castData(data, 'float32', 'float16', info.name) : data,
      ...(axis !== 0 ? { batchAxis: axis } : {}),
    };
  });
  return createTensorDataset({ inputs, source: 'random' });
}

/**
 * A value for a scalar input without data: the constant the graph compares it with (Silero VAD
 * tests `sr == 16000` to pick its 16 kHz branch), else 1.
 */
function scalarInput(model: Model, info: ValueInfo): SampleTensor {
  let value = 1;
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Equal' || !n.inputs.includes(info.name)) continue;
    const other = model.graph.initializers.get(n.inputs.find((i) => i !== info.name) ?? '');
    if (other !== undefined && other.size === 1) {
      value = Number(other.data[0]);
      break;
    }
  }
  const data = allocate(info.dtype === 'float16' ? 'float32' : info.dtype, 1);
  if (data instanceof BigInt64Array) data[0] = BigInt(Math.round(value));
  else data[0] = value;
  return {
    name: info.name,
    dtype: info.dtype,
    shape: [],
    data: info.dtype === 'float16' ? castData(data, 'float32', 'float16', info.name) : data,
    shared: true,
  };
}
