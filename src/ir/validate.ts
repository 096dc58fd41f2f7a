// Structural checks on a graph, so that a broken import or a buggy transform fails here with a
// message naming the value and the fix, not later inside onnxruntime with a cryptic one.
import { WhittleError } from './errors.js';
import { opKey } from './shape.js';
import type { Graph, Node } from './graph.js';

/** Ops whose first output is optional in ONNX (the recurrent ones); every other op must name it. */
const OPTIONAL_FIRST_OUTPUT = new Set(['LSTM', 'GRU', 'RNN']);
/** How many offenders a message lists before it says "and N more". */
const LIST_AT_MOST = 5;

function describe(node: Node): string {
  return `${node.opType} "${node.name}"`;
}

function listed(items: string[]): string {
  const shown = items.slice(0, LIST_AT_MOST).join('; ');
  return items.length > LIST_AT_MOST ? `${shown}; and ${items.length - LIST_AT_MOST} more` : shown;
}

function subgraphs(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(node.attributes)) if (a.type === 'graph') out.push(a.value);
  return out;
}

/**
 * Names a node reads from its enclosing scope through subgraph attributes (the body of a Loop,
 * the branches of an If): values the subgraph uses but does not define itself.
 *
 * ```ts
 * const outer = implicitInputs(loopNode); // e.g. ['lr'] when the Loop body reads the outer 'lr'
 * ```
 */
export function implicitInputs(node: Node): string[] {
  const out = new Set<string>();
  for (const g of subgraphs(node)) {
    const defined = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys(), ...g.opaqueInitializers.keys()]);
    for (const n of g.nodes) for (const o of n.outputs) if (o !== '') defined.add(o);
    const reads = (name: string): void => {
      if (name !== '' && !defined.has(name)) out.add(name);
    };
    for (const n of g.nodes) {
      n.inputs.forEach(reads);
      implicitInputs(n).forEach(reads);
    }
    g.outputs.forEach((v) => reads(v.name));
  }
  return [...out];
}

/** Every value a node depends on: its inputs (minus omitted optional ones) and implicit inputs. */
function dependencies(node: Node): string[] {
  return [...node.inputs.filter((i) => i !== ''), ...implicitInputs(node)];
}

function fail(where: string, message: string): never {
  throw new WhittleError('INVALID_GRAPH', `${where}${message}`);
}

function checkScope(graph: Graph, opRules: ReadonlyMap<string, unknown> | undefined, outer: ReadonlySet<string>, where: string): void {
  // 1. Graph inputs and initializers: the values that exist before any node runs.
  const declared = new Set<string>();
  for (const v of graph.inputs) {
    if (v.name === '') fail(where, 'a graph input has an empty name; every graph input needs a name');
    if (declared.has(v.name)) fail(where, `graph input "${v.name}" is listed twice; remove the duplicate`);
    declared.add(v.name);
  }
  for (const k of graph.initializers.keys()) declared.add(k);
  for (const k of graph.opaqueInitializers.keys()) declared.add(k);

  // 2. Output names: present where the op requires them, each produced exactly once.
  const producer = new Map<string, { node: Node; index: number }>();
  const problems: string[] = [];
  graph.nodes.forEach((node, index) => {
    if (node.outputs.length === 0 || node.outputs.every((o) => o === '')) {
      problems.push(`${describe(node)} has no named output; give it one, or delete the node`);
    } else if (node.outputs[0] === '' && !OPTIONAL_FIRST_OUTPUT.has(node.opType)) {
      problems.push(`${describe(node)} leaves its first output unnamed, but ${node.opType} requires it; name it`);
    }
    for (const o of node.outputs) {
      if (o === '') continue;
      const prev = producer.get(o);
      if (prev !== undefined) problems.push(`"${o}" is produced by both ${describe(prev.node)} and ${describe(node)}; rename one of the outputs`);
      else if (graph.initializers.has(o) || graph.opaqueInitializers.has(o))
        problems.push(`${describe(node)} writes "${o}", which is already an initializer; rename the output`);
      else if (declared.has(o)) problems.push(`${describe(node)} writes "${o}", which is already a graph input; rename the output`);
      else if (outer.has(o)) problems.push(`${describe(node)} writes "${o}", which the enclosing graph already defines; rename the output`);
      else producer.set(o, { node, index });
    }
  });
  if (problems.length > 0) fail(where, listed(problems));

  // 3. Every value read must exist somewhere in scope.
  const exists = (name: string): boolean => declared.has(name) || producer.has(name) || outer.has(name);
  const dangling: string[] = [];
  for (const node of graph.nodes) {
    const direct = new Set(node.inputs);
    for (const i of dependencies(node)) {
      if (!exists(i))
        dangling.push(`${describe(node)} reads "${i}"${direct.has(i) ? '' : ' inside a subgraph'}, which no node, graph input or initializer produces`);
    }
  }
  if (dangling.length > 0) fail(where, `${listed(dangling)}; add the missing value as a graph input or initializer, or fix the name`);

  const missing = graph.outputs.filter((v) => !exists(v.name)).map((v) => `"${v.name}"`);
  if (missing.length > 0)
    fail(where, `graph output ${listed(missing)} is not produced by any node, graph input or initializer; fix the name or drop the output`);

  // 4. Order: each node runs after the producers of everything it reads.
  for (const [index, node] of graph.nodes.entries()) {
    for (const i of dependencies(node)) {
      const p = producer.get(i);
      if (p === undefined || p.index < index) continue;
      topologicalSort(graph); // throws the cycle error when no order exists
      fail(
        where,
        `nodes are not in topological order: ${describe(node)} (#${index}) reads "${i}", which ${describe(p.node)} (#${p.index}) produces later; call topologicalSort(graph) to reorder the nodes`,
      );
    }
  }

  // 5. Ops: every node must be one the caller's rule table knows.
  if (opRules !== undefined) {
    const unknown = new Set<string>();
    for (const node of graph.nodes) {
      if (!opRules.has(opKey(node))) unknown.add(node.domain === '' ? node.opType : `${node.opType} (domain ${node.domain})`);
    }
    if (unknown.size > 0) {
      const which = [...unknown].sort();
      throw new WhittleError(
        'UNSUPPORTED_OP',
        `${where}${which.length === 1 ? 'op' : 'ops'} ${which.join(', ')} ${which.length === 1 ? 'is' : 'are'} not supported by Whittle yet; supported: ${[...opRules.keys()].sort().join(', ')}`,
      );
    }
  }

  // 6. Subgraphs see everything in this scope.
  const scope = new Set<string>([...outer, ...declared, ...producer.keys()]);
  for (const node of graph.nodes) {
    for (const [key, a] of Object.entries(node.attributes)) {
      if (a.type === 'graph') checkScope(a.value, opRules, scope, `${where}${describe(node)} attribute ${key}: `);
    }
  }
}

/**
 * Checks that a graph is well formed: every value read is produced, each value has one
 * producer, nodes are in topological order, graph outputs exist, and (when `opRules` is given)
 * every op is one Whittle supports. Throws WhittleError INVALID_GRAPH or UNSUPPORTED_OP.
 *
 * ```ts
 * validateGraph(model.graph, OPS);
 * ```
 */
export function validateGraph(graph: Graph, opRules?: ReadonlyMap<string, unknown>): void {
  checkScope(graph, opRules, new Set(), graph.name === '' ? '' : `graph "${graph.name}": `);
}

/** A binary min-heap of node indices: Kahn's algorithm with it keeps the original order where it can. */
class IndexHeap {
  #items: number[] = [];
  get size(): number {
    return this.#items.length;
  }
  push(x: number): void {
    const a = this.#items;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= x) break;
      a[i] = a[parent] as number;
      a[parent] = x;
      i = parent;
    }
  }
  pop(): number {
    const a = this.#items;
    const top = a[0] as number;
    const last = a.pop() as number;
    if (a.length === 0) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && (a[l] as number) < (a[m] as number)) m = l;
      if (r < a.length && (a[r] as number) < (a[m] as number)) m = r;
      if (m === i) break;
      a[i] = a[m] as number;
      a[m] = last;
      i = m;
    }
    return top;
  }
}

/**
 * Returns a copy of the graph with its nodes in topological order. Stable: among the nodes
 * that are ready, the one that came first runs first, so an ordered graph comes back unchanged.
 * Values that no node produces (inputs, initializers, dangling names) impose no order. Throws
 * INVALID_GRAPH naming the nodes of a cycle.
 *
 * ```ts
 * const ordered = topologicalSort(graph);
 * validateGraph(ordered);
 * ```
 */
export function topologicalSort(graph: Graph): Graph {
  const nodes = graph.nodes;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o !== '' && !producer.has(o) && producer.set(o, i)));
  const pending = nodes.map(() => 0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const p of new Set(dependencies(n).map((d) => producer.get(d)))) {
      if (p === undefined) continue;
      pending[i] = (pending[i] as number) + 1;
      (dependents[p] as number[]).push(i);
    }
  });
  const ready = new IndexHeap();
  pending.forEach((c, i) => c === 0 && ready.push(i));
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const d of dependents[i] as number[]) {
      pending[d] = (pending[d] as number) - 1;
      if (pending[d] === 0) ready.push(d);
    }
  }
  if (order.length < nodes.length) {
    const stuck = nodes.filter((_, i) => (pending[i] as number) > 0).map(describe);
    throw new WhittleError('INVALID_GRAPH', `the graph has a cycle, so no order can run it; nodes on or after the cycle: ${listed(stuck)}`);
  }
  const out = graph.clone();
  out.nodes = order.map((i) => out.nodes[i] as Node);
  return out;
}
