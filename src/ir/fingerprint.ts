// A content hash of a model computed from the IR itself, without serializing it: what a session
// cache needs to recognise a graph it has already compiled. Serializing a 100,000-node graph to
// protobuf costs about as much as reading it; hashing its fields costs a fraction of that.
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { Attribute, Graph, Model, ValueInfo } from './graph.js';
import type { Tensor } from './tensor.js';

export interface FingerprintOptions {
  /**
   * Leave out what does not change what the graph computes: metadata_props, producer name and
   * version. Two models that differ only there get the same fingerprint (a session built for one
   * runs the other). Default false.
   */
  computeOnly?: boolean;
}

/** Text is batched into one `update` per this many characters (one call per field is slow). */
const FLUSH = 1 << 16;

class Hasher {
  readonly #hash: Hash = createHash('sha256');
  #text = '';

  text(s: string): void {
    // Lengths first, so that no two different sequences of fields run together into the same text.
    this.#text += `${s.length}:${s}`;
    if (this.#text.length > FLUSH) this.#flush();
  }

  bytes(b: Uint8Array | undefined): void {
    if (b === undefined) {
      this.text('-');
      return;
    }
    this.text(`b${b.byteLength}`);
    this.#flush();
    this.#hash.update(b);
  }

  tensor(t: Tensor): void {
    this.text(`${t.dtype}[${t.dims.join(',')}]`);
    this.bytes(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }

  #flush(): void {
    if (this.#text !== '') this.#hash.update(this.#text);
    this.#text = '';
  }

  digest(): string {
    this.#flush();
    return this.#hash.digest('hex');
  }
}

// Numbers as JavaScript prints them (exact for doubles, so for float32 values), -0 apart from 0.
const num = (x: number): string => (Object.is(x, -0) ? '-0' : String(x));

function valueInfo(h: Hasher, v: ValueInfo): void {
  h.text(`${v.name}|${v.dtype}|${v.shape.join(',')}|${v.unranked === true ? 'u' : ''}|${v.type ?? ''}`);
  h.bytes(v.typeProto);
  h.bytes(v.extra);
}

function attribute(h: Hasher, name: string, a: Attribute): void {
  h.text(`${name}=${a.type}`);
  switch (a.type) {
    case 'tensor':
      h.tensor(a.value);
      return;
    case 'graph':
      graph(h, a.value);
      return;
    case 'opaque':
      h.bytes(a.value);
      return;
    case 'ints':
    case 'floats':
      h.text(a.value.map(num).join(','));
      return;
    case 'strings':
      h.text(String(a.value.length));
      for (const s of a.value) h.text(s);
      return;
    case 'string':
      h.text(a.value);
      return;
    default:
      h.text(num(a.value));
      return;
  }
}

function graph(h: Hasher, g: Graph): void {
  h.text(`graph ${g.name}`);
  h.bytes(g.extra);
  h.text(`nodes ${g.nodes.length}`);
  for (const n of g.nodes) {
    h.text(`${n.name}|${n.generatedName ?? ''}|${n.domain}|${n.opType}|${n.inputs.length}|${n.inputs.join('|')}|${n.outputs.length}|${n.outputs.join('|')}`);
    const names = Object.keys(n.attributes);
    h.text(String(names.length));
    for (const k of names) attribute(h, k, n.attributes[k] as Attribute);
    h.bytes(n.extra);
  }
  for (const [label, list] of [
    ['inputs', g.inputs],
    ['outputs', g.outputs],
    ['valueInfo', [...g.valueInfo.values()]],
  ] as const) {
    h.text(`${label} ${list.length}`);
    for (const v of list) valueInfo(h, v);
  }
  h.text(`initializers ${g.initializers.size}`);
  for (const [k, t] of g.initializers) {
    h.text(k);
    h.tensor(t);
  }
  h.text(`opaque ${g.opaqueInitializers.size}`);
  for (const [k, b] of g.opaqueInitializers) {
    h.text(k);
    h.bytes(b);
  }
}

/**
 * SHA-256 over everything `encodeModel` would write (every node, attribute, value type and weight
 * byte), read from the IR directly: equal fingerprints mean equal files (or, with `computeOnly`,
 * files that differ only in metadata). Costs a few percent of an encode on a large graph.
 *
 * ```ts
 * const key = modelFingerprint(model, { computeOnly: true });
 * ```
 */
export function modelFingerprint(model: Model, options: FingerprintOptions = {}): string {
  const h = new Hasher();
  h.text(`onnx ir ${model.irVersion}`);
  h.text(model.opsetImports.map((o) => `${o.domain}:${o.version}`).join(','));
  if (options.computeOnly !== true) {
    h.text(`${model.producerName}|${model.producerVersion}`);
    const keys = Object.keys(model.metadata);
    h.text(String(keys.length));
    for (const k of keys) {
      h.text(k);
      h.text(model.metadata[k] as string);
    }
  }
  // Model-level fields Whittle does not model (local functions, training info) may change the computation.
  h.bytes(model.extra);
  graph(h, model.graph);
  return h.digest();
}
