// `optimize`: the search. Prior (per-layer sensitivity on validation samples) → greedy path →
// trials along it → an evolutionary population for the remaining trial budget → the Pareto front
// → the winner fine-tuned longer, written to the output directory, evaluated once on the test set.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Normalization } from '../data/index.js';
import { createRng, deriveSeed, firstSamples, parseNormalization } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { writeFileAtomic } from '../ir/io.js';
import { decodeModel, encodeModel } from '../ir/onnx.js';
import { modelStats } from '../ir/stats.js';
import { SHAPE_RULES } from '../ops/index.js';
import { checkTeacher } from '../compress/distill/index.js';
import { compareLatency } from '../runtime/latency.js';
import { evaluate, inputBatch } from '../train/evaluate.js';
import { denseParameterBytes, NORMALIZE_KEY, recordedSplit, withNormalization } from '../pipeline/index.js';
import { compressCandidate } from './compress.js';
import { searchData, trialData } from './data.js';
import { budgetFills, keepMoreFill } from './fill.js';
import { estimateBytes, estimateFlops, greedyPath } from './greedy.js';
import type { CostEstimate } from './greedy.js';
import { appendJournal, readJournal } from './journal.js';
import type { LatencySettings } from './latency.js';
import { LatencyTable } from './latency.js';
import { paretoFront } from './pareto.js';
import { trimToBudget } from './trim.js';
import type { TrialRunner } from './pool.js';
import { measurePrior } from './prior.js';
import { candidateKey, crossover, denseCandidate, mutate, searchSpace } from './space.js';
import type { SearchSpace } from './space.js';
import type { Candidate, DataRef, LayerPolicy, SparsityMode, Target, Trial, TrialResult, TrialTask } from './types.js';
import { WHITTLE_VERSION } from './version.js';
import type { ChannelRoundTo } from '../compress/prune/index.js';
import { autoRoundsAny, checkRounding } from '../compress/prune/index.js';

/**
 * The trial fine-tune rates `whittle optimize` chooses among on validation unless told its rates:
 * 0.01 suits the LeNets Whittle trains (recipes/optimize-lenet.md), a tenth of it a PyTorch
 * export whose BatchNorms were folded into its convolutions.
 */
export const DEFAULT_LR_PROBE: readonly number[] = [0.01, 0.003, 0.001];

/**
 * The SGD steps a trial's fine-tune takes at least when its epochs are not given: one epoch of
 * the LeNets' 10,000 trial samples is 156 steps, one of 540 own images 8, too few to recover.
 */
export const MIN_TRIAL_STEPS = 100;

export interface OptimizeOptions {
  /** The input model file (workers read it, or its bytes go through the queue). */
  modelPath: string;
  /** How workers find the input model: its path (default) or a stored blob key. */
  modelRef?: TrialTask['model'];
  data: DataRef;
  target: Target;
  /** Bytes (size), ms per batch (latency) or a fraction of the input's FLOPs (flops); absent: the smallest/fastest within maxDrop. */
  budget?: number;
  /** Validation accuracy the result may lose against the input's, as a fraction (0.003 = 0.3 points). */
  maxDrop: number;
  latency: LatencySettings;
  latencyTablePath: string;
  trials: number;
  /** Stop proposing trials after this many seconds (the front then depends on the machine's speed). */
  timeSeconds?: number;
  seed: number;
  /**
   * Fine-tune epochs of a trial (and of the probes that choose the final's distillation); default:
   * enough for MIN_TRIAL_STEPS steps over the trial's training samples, at least 1.
   */
  epochs?: number;
  finalEpochs: number;
  /** Training samples of the winner's fine-tune (default: all of the training side). */
  finalTrainSamples?: number;
  /** Trials proposed at once (a generation); fixed, so that the front does not depend on the workers. */
  population: number;
  batchSize: number;
  /** The fine-tune rates trials may use (the first is the greedy path's); replaced by the probe's choice with `lrProbe`. */
  lrs: readonly number[];
  /**
   * Rates to choose the trials' fine-tune rate from, on validation, before the search: the greedy
   * path's middle candidate is fine-tuned as a trial at each, and the rate it scores highest with
   * (the larger on a tie) becomes the search's one rate. These trials join the front but are not
   * counted in `trials`. A model file's suitable rate is not known in advance (a PyTorch ResNet-20
   * with its BatchNorms folded loses 44% → 11% validation in a trial at 0.01, reaches 87% at 0.001).
   */
  lrProbe?: readonly number[];
  /**
   * Thinned layers keep a multiple of this many channels, rounding up. Default 'auto': a
   * convolution's channels multiples of 8 (AUTO_CONV_ROUND_TO), which keeps x86 convolutions on
   * onnxruntime's fast blocked kernels where odd channel counts can make the model slower than
   * its input; fully connected layers unrounded. 1: no rounding anywhere.
   */
  roundTo?: ChannelRoundTo;
  /** How trials may sparsify (size target); default magnitude pruning only. */
  modes?: readonly SparsityMode[];
  /** How MNIST/CIFAR pixel bytes become the model's input; unused for `data.own` (fed as read). */
  normalization: Normalization;
  /** ORT threads of the winner's fine-tune and evaluation. */
  threads?: number;
  out: string;
  resume: boolean;
  runner: TrialRunner;
  /** Also fine-tune the uniform setting (every layer alike) at the chosen model's cost, for comparison. */
  compareUniform?: boolean;
  /**
   * Latency target without a budget: how many of the fastest feasible structures (by the latency
   * table) are re-timed side by side before one is chosen, the fastest of them winning (default 3;
   * 1 or 0: take the table's fastest).
   */
  rerank?: number;
  /**
   * Size target with a budget: after the search, up to three fill trials spend the bytes the
   * winner leaves unspent (more weights, more bits), and the best on validation is fine-tuned
   * (default true).
   */
  fillBudget?: boolean;
  /**
   * Distil from the input model during the winner's (and the uniform's) fine-tune (default true):
   * the soft targets' temperature and weight chosen among DISTILL_CHOICES by the winner's
   * validation accuracy after a trial-sized fine-tune; false: the labels alone.
   */
  distill?: boolean;
  /**
   * Models the final distils from instead of the input (their soft targets averaged): e.g. a
   * stronger CNN teaching an MLP student. Each is fed the training batch in the normalization it
   * recorded (`whittle.normalize`; else the student's). Default: the input alone.
   */
  teacherPaths?: readonly string[];
  /**
   * Augmentation of the final (and its probes): training images shifted by up to this many
   * pixels, kept only when a trial-sized probe with it scores higher on validation than without
   * (default 0: no probe, no shifts).
   */
  shifts?: number;
  /**
   * Size target with a budget: the final fine-tunes the chosen candidate with every shared layer
   * keeping more weights, as many as fit the budget (fill (1), sized as the fill trials are), since
   * a trial-sized fine-tune cannot show what a long one makes of them (default true).
   */
  finalFill?: boolean;
  log?: (line: string) => void;
  /** Called once per finished trial, in trial order (the CLI's run log). */
  onTrial?: (t: FrontEntry) => void;
}

export interface FrontEntry {
  trial: number;
  origin: string;
  valAccuracy: number;
  bytes: number;
  latencyMs: number;
  flops: number;
  feasible: boolean;
  layers: Record<string, LayerPolicy>;
  lr: number;
  mode?: SparsityMode;
}

export interface OptimizeResult {
  target: Target;
  budget: number | null;
  maxDrop: number;
  /** The channel rounding thinned layers kept: a multiple, or 'auto' (a model without convolutions to thin gets 1). */
  roundTo: ChannelRoundTo;
  /** The input: `bytes` its ONNX file, `denseBytes` its float parameters as float32 (the ratio's numerator, as Deep Compression counts). */
  baseline: { valAccuracy: number; testAccuracy: number; bytes: number; denseBytes: number; latencyMs: number; flops: number };
  /** Validation accuracy of the dense input on the trials' validation samples. */
  trialBaseline: number;
  front: FrontEntry[];
  /** Trials run: the rate probe's (`lrProbe.rates`), the search's (`--trials`) and, after them, the fill trials (`fillTrials` of them). */
  trials: number;
  fillTrials: number;
  chosen: FrontEntry & { met: boolean };
  /** When the chosen candidate is a budget fill: the search's winner it was grown from. */
  filledFrom?: FrontEntry;
  /**
   * With `finalFill`, when the chosen candidate left bytes of the budget unspent: the per-layer
   * policy the final fine-tuned instead (every shared layer keeping more weights) and its
   * structure's bytes, untrained.
   */
  finalCandidate?: { layers: Record<string, LayerPolicy>; bytes: number };
  /** Fine-tune epochs of each trial: `epochs` as given, or as MIN_TRIAL_STEPS asked. */
  trialEpochs: number;
  /** Fine-tune epochs of the final: `finalEpochs`, or a trial's when that is more. */
  finalEpochs: number;
  /** With `lrProbe`: the trial (counting from 0, as in `front`) of each rate and its validation accuracy, and the rate chosen. */
  lrProbe?: { rates: { lr: number; trial: number; valAccuracy: number }[]; chosen: number };
  /**
   * How the final fine-tune was distilled: each setting's validation accuracy after a trial-sized
   * fine-tune of the chosen candidate, and the one used.
   */
  distillation?: { probes: DistillProbe[]; chosen: DistillChoice };
  /** The teachers the final distilled from (absent: the input), with the normalization each was fed and its validation accuracy. */
  teachers?: {
    path: string;
    normalization: Normalization;
    valAccuracy: number;
    /**
     * 'same': the teacher records this search's validation split, so it never trained on the
     * validation samples the final is chosen on; 'other' / 'unrecorded': it may have (a warning
     * is logged).
     */
    split: 'same' | 'other' | 'unrecorded';
  }[];
  /**
   * With `shifts`: the trial-sized probe of the chosen distillation with the training images
   * shifted by up to `shift` pixels, against the same without; `used`: the final shifted them.
   */
  shiftProbe?: { shift: number; valAccuracy: number; without: number; used: boolean };
  /**
   * Size target with a budget, when the final file came out over it: the fraction of each layer's
   * remaining weights pruned (smallest first, codebooks re-fitted, no further fine-tune) to fit,
   * and the bytes before.
   */
  trimmed?: { fraction: number; bytesBefore: number; valAccuracyBefore: number };
  /** The winner after its longer fine-tune; `withinBudget`: the written file (size) or its structure (latency, FLOPs) meets --budget. */
  final: {
    valAccuracy: number;
    testAccuracy: number;
    bytes: number;
    latencyMs: number;
    flops: number;
    file: string;
    onnx: string;
    withinBudget: boolean | null;
  };
  /** Input over result: dense float32 bytes over the written file's, latency, FLOPs. */
  ratio: { bytes: number; latency: number; flops: number };
  /**
   * The input and the written model timed again side by side (alternating within each round,
   * medians of `rounds`) on validation samples, whatever the target; `ratio.latency` is the table's.
   */
  latencyCheck?: { inputMs: number; chosenMs: number; speedup: number; rounds: number };
  /**
   * Latency target without a budget: the fastest feasible structures by the table, re-timed side by
   * side (alternating within each round, medians); the fastest of them is the one chosen. `trial`
   * counts from 0, as in `front`.
   */
  reranked?: { trial: number; tableMs: number; ms: number }[];
  /** With `compareUniform`: one setting for every layer at the chosen model's cost, fine-tuned the same. */
  uniform?: {
    valAccuracy: number;
    testAccuracy: number;
    bytes: number;
    latencyMs: number;
    flops: number;
    layers: Record<string, LayerPolicy>;
    mode?: SparsityMode;
    /** The fraction of each layer's remaining weights pruned to bring the uniform's final file within the budget. */
    trimmed?: number;
  };
  message: string | undefined;
  latencyTable: { path: string; measured: number; reused: number };
  seconds: number;
}

/**
 * Fills aim this far under a size budget: the final fine-tune moves the entropy-coded bytes
 * (LeNet-300-100: +5% over the fill trial's after 16 epochs, +7% after 8), and a final that still
 * lands over the budget is pruned to it without a fine-tune (trim.ts), which costs more than
 * starting from fewer weights.
 */
const FILL_MARGIN = 0.94;

/**
 * The final's fill aims this far under the budget for a magnitude-pruned candidate: its file
 * tracks its structure's bytes (LeNet-5, recipes/optimize-lenet.md: 15,779 untrained → 15,961
 * after a 20-epoch final, +1.2%; 14,894 → 14,897 after 4 epochs), where variational dropout's
 * moves by 5%; a final still over is trimmed to the budget.
 */
const FINAL_MARGIN_MAGNITUDE = 0.97;

export interface DistillChoice {
  temperature: number;
  /** Weight of the soft term (0: the labels alone, no teacher). */
  alpha: number;
}
export interface DistillProbe extends DistillChoice {
  valAccuracy: number;
}

/**
 * The final fine-tune's distillation settings, tried in this order on the chosen candidate (a tie
 * keeps the earlier): the library's default and Hinton's low-temperature / high-weight corner.
 * The labels alone are not among them: a trial-sized probe favoured them (LeNet-5, trial 42 of
 * recipes/optimize-lenet.md: 98.60% vs 98.53% / 98.37% on 3,000 images), but the 20-epoch final
 * they then ran overfitted (99.95% training accuracy, validation 99.10%) where the same final
 * distilled at T 4 / α 0.7 reached 99.27% — a probe one epoch long cannot see that.
 */
export const DISTILL_CHOICES: readonly DistillChoice[] = [
  { temperature: 4, alpha: 0.7 },
  { temperature: 2, alpha: 0.9 },
];

function sha(s: string | Uint8Array): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/**
 * Runs the search and writes DIR/model.wtl or DIR/model.onnx, DIR/front.json and DIR/result.json.
 *
 * ```ts
 * const r = await optimize({ modelPath: 'lenet-5.onnx', target: 'size', maxDrop: 0.003, trials: 32, runner: new LocalPool(2), ... });
 * r.front; // Pareto front: validation accuracy vs bytes vs latency
 * ```
 */
export async function optimize(o: OptimizeOptions): Promise<OptimizeResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  if (existsSync(o.out) && !statSync(o.out).isDirectory()) throw new WhittleError('BAD_ARGUMENT', `output ${o.out} is a file; pass a directory`);
  mkdirSync(o.out, { recursive: true });
  const resultPath = join(o.out, 'result.json');
  const journalPath = join(o.out, 'journal.jsonl');
  if (!o.resume && existsSync(journalPath))
    throw new WhittleError('BAD_ARGUMENT', `${o.out} already holds a search (journal.jsonl); resume it, or choose another output directory`);

  // The user's own samples are fed as read: no image normalization, no pixel shifts.
  const own = o.data.own !== undefined;
  checkRounding(o.roundTo, undefined);
  if (own && (o.shifts ?? 0) > 0)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `shifts move the pixels of MNIST/CIFAR images; ${o.data.own?.train} is fed to the model as read — leave shifts at 0`,
    );
  const modelBytes = readFileSync(o.modelPath);
  const model = decodeModel(modelBytes, o.modelPath);
  // 'auto' on a model without convolution channels to thin rounds nothing: the same search as 1.
  const roundTo: ChannelRoundTo = (o.roundTo ?? 'auto') === 'auto' && !autoRoundsAny(model.graph) ? 1 : (o.roundTo ?? 'auto');
  // Teachers are read and checked against the input before any trial runs.
  const loaded = (o.teacherPaths ?? []).map((p) => {
    const m = decodeModel(readFileSync(p), p);
    checkTeacher(m, model);
    const recorded = m.metadata[NORMALIZE_KEY];
    const normalization = recorded !== undefined && !own ? parseNormalization(recorded) : o.normalization;
    return { path: p, model: m, normalization };
  });
  const data = await searchData(o.data, model);
  const trialSteps = Math.max(1, Math.floor(Math.min(o.data.trainSamples, data.train.count) / o.batchSize));
  const epochs = o.epochs ?? Math.max(1, Math.ceil(MIN_TRIAL_STEPS / trialSteps));
  if (o.epochs === undefined && epochs > 1)
    log(`optimize: trials fine-tune ${epochs} epochs (${trialSteps} steps each, at least ${MIN_TRIAL_STEPS} in all; --epochs to choose)`);
  // The final is the longer fine-tune: never fewer epochs than the trial that chose it.
  const finalEpochs = o.finalEpochs > 0 ? Math.max(o.finalEpochs, epochs) : 0;
  if (finalEpochs > o.finalEpochs && o.finalEpochs > 0)
    log(`optimize: the final fine-tunes ${finalEpochs} epochs, as many as a trial (asked: ${o.finalEpochs})`);
  const trialVal = firstSamples(data.validation, o.data.valSamples);
  let space = searchSpace(model, o.target, o.lrs, o.modes);
  const settings = JSON.stringify({
    v: WHITTLE_VERSION,
    model: sha(modelBytes),
    data: o.data,
    target: o.target,
    budget: o.budget,
    maxDrop: o.maxDrop,
    seed: o.seed,
    epochs,
    population: o.population,
    lrs: o.lrs,
    ...(o.lrProbe !== undefined ? { lrProbe: o.lrProbe } : {}),
    ...(roundTo !== 1 ? { roundTo } : {}),
    ...(o.modes !== undefined ? { modes: o.modes } : {}),
    latency: o.latency,
    batch: o.batchSize,
  });
  const journal = readJournal(journalPath);
  if (journal.header !== undefined && journal.header.settings !== settings)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `the journal in ${o.out} belongs to a search with other settings; resume with the same settings, or choose another output directory`,
    );
  if (journal.header === undefined) appendJournal(journalPath, { type: 'search', settings });
  // A torn last line gets its newline, so the next entry starts a line of its own.
  else if (!journal.text.endsWith('\n')) writeFileAtomic(journalPath, [new TextEncoder().encode(`${journal.text}\n`)]);
  if (journal.results.size > 0) log(`optimize: resuming with ${journal.results.size} finished trials from ${journalPath}`);

  const table = new LatencyTable(o.latencyTablePath, model, modelBytes, data.train, o.normalization, roundTo);
  let dense = denseCandidate(space);
  const denseFloat: Candidate = { ...dense, layers: Object.fromEntries(Object.entries(dense.layers).map(([k, p]) => [k, { ...p, format: 'float' }])) };
  const baseLatency = await table.lookup(denseFloat, o.latency);
  const baseFlops = modelStats(model, SHAPE_RULES).flops;
  const baseBytes = modelBytes.length;
  const denseBytes = denseParameterBytes(model);

  log(`optimize: prior — each of ${space.layers.length} layers changed alone, on ${trialVal.count} validation samples`);
  const priorStart = performance.now();
  let priorLogged = priorStart;
  const prior = await measurePrior(model, space, trialVal, o.normalization, {
    roundTo,
    // A line every ~10 s on a long prior (dozens of layers of a foreign CNN), with the time left.
    onLayer: (done, total, name) => {
      const now = performance.now();
      if (done === total || now - priorLogged < 10_000) return;
      priorLogged = now;
      const eta = ((now - priorStart) / done) * (total - done);
      log(`optimize: prior ${done}/${total} layers (last: ${name}), about ${Math.ceil(eta / 1000)} s left`);
    },
  });
  log(`optimize: prior measured in ${((performance.now() - priorStart) / 1000).toFixed(1)} s`);
  const reference = prior.baseline;
  log(
    `optimize: input validation accuracy ${(100 * reference).toFixed(2)}%, ${baseBytes} bytes, ${baseLatency.toFixed(3)} ms/batch (${o.latency.runtime}, ${o.latency.threads} thread(s))`,
  );

  let cost: CostEstimate;
  if (o.target === 'size') cost = estimateBytes(space);
  else if (o.target === 'flops') cost = estimateFlops(space);
  else cost = await latencyEstimate(space, denseFloat, table, o.latency, baseLatency);

  const trials: Trial[] = [];
  const byKey = new Map<string, Trial>();
  const metric = (t: Trial): number => (o.target === 'size' ? t.result.bytes : o.target === 'latency' ? t.latencyMs : t.result.flops / baseFlops);
  const feasible = (t: Trial): boolean => (o.budget !== undefined ? metric(t) <= o.budget : t.result.valAccuracy >= reference - o.maxDrop);
  // Higher is better: feasible trials first, then the objective; infeasible ones by how far off.
  const fitness = (t: Trial): number => {
    if (o.budget !== undefined) return feasible(t) ? 1 + t.result.valAccuracy : 1 - metric(t) / o.budget;
    return feasible(t) ? 2 - metric(t) / metric0 : reference - o.maxDrop - t.result.valAccuracy < 0 ? 0 : -(reference - o.maxDrop - t.result.valAccuracy);
  };
  const metric0 = o.target === 'size' ? cost(dense) : o.target === 'latency' ? baseLatency : 1;
  const deadline = o.timeSeconds !== undefined ? t0 + 1000 * o.timeSeconds : Infinity;
  // Trials of the rate probe run outside the budget, as the fills after the search do.
  let probeTrials = 0;
  const remaining = (): number => o.trials + probeTrials - trials.length;

  const evaluateBatch = async (cands: readonly Candidate[], origin: string, limit = remaining()): Promise<Trial[]> => {
    const fresh = cands.filter((c, i) => !byKey.has(candidateKey(c)) && cands.findIndex((d) => candidateKey(d) === candidateKey(c)) === i).slice(0, limit);
    const tasks: TrialTask[] = fresh.map((c) => ({
      version: WHITTLE_VERSION,
      key: sha(`${candidateKey(c)}|${settings}`),
      model: o.modelRef ?? { path: o.modelPath },
      data: o.data,
      target: o.target,
      candidate: c,
      normalization: o.normalization,
      epochs,
      batchSize: o.batchSize,
      seed: o.seed,
      ...(roundTo !== 1 ? { roundTo } : {}),
    }));
    const todo = tasks.filter((t) => !journal.results.has(t.key));
    if (todo.length > 0)
      await o.runner.run(todo, (r) => {
        appendJournal(journalPath, { type: 'trial', result: r });
        journal.results.set(r.key, r);
      });
    const out: Trial[] = [];
    for (const [i, task] of tasks.entries()) {
      const result = journal.results.get(task.key) as TrialResult;
      const c = fresh[i] as Candidate;
      const t: Trial = { index: trials.length, origin, candidate: c, result, latencyMs: await table.lookup(c, o.latency) };
      trials.push(t);
      byKey.set(candidateKey(c), t);
      out.push(t);
      log(
        `optimize: trial ${t.index < o.trials + probeTrials ? `${t.index + 1}/${o.trials + probeTrials}` : t.index + 1} (${origin}) val ${(100 * result.valAccuracy).toFixed(2)}%, ${result.bytes} bytes, ${t.latencyMs.toFixed(3)} ms${feasible(t) ? '' : ' (misses the constraint)'}${todo.includes(task) ? '' : ' [journal]'}`,
      );
      o.onTrial?.({
        trial: t.index,
        origin,
        valAccuracy: result.valAccuracy,
        bytes: result.bytes,
        latencyMs: t.latencyMs,
        flops: result.flops,
        feasible: feasible(t),
        layers: c.layers,
        lr: c.lr,
        ...(c.mode !== undefined ? { mode: c.mode } : {}),
      });
    }
    return out;
  };

  // Greedy: the path from dense, bisected with `population` trials per round for the last point
  // that meets the constraint (max-drop) or the first that fits the budget.
  let path = greedyPath(dense, space, prior, cost);
  let lrProbe: OptimizeResult['lrProbe'];
  const probeRates = [...new Set(o.lrProbe ?? [])];
  const probed = path[Math.floor(path.length / 2)];
  if (probeRates.length > 1 && probed !== undefined) {
    probeTrials = probeRates.length;
    const done = await evaluateBatch(
      probeRates.map((lr) => ({ ...probed, lr })),
      'lr probe',
      probeRates.length,
    );
    const rates = probeRates.map((lr) => {
      const t = byKey.get(candidateKey({ ...probed, lr })) as Trial;
      return { lr, trial: t.index, valAccuracy: t.result.valAccuracy };
    });
    const chosen = rates.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a)).lr;
    probeTrials = done.length;
    lrProbe = { rates, chosen };
    log(
      `optimize: fine-tune rate ${chosen} for the trials (the greedy path's middle candidate at ${rates.map((r) => `${r.lr}: ${(100 * r.valAccuracy).toFixed(2)}%`).join(', ')})`,
    );
    space = { ...space, lrs: [chosen] };
    dense = denseCandidate(space);
    path = greedyPath(dense, space, prior, cost);
  }
  const greedyBudget = Math.max(1, Math.ceil(o.trials / 2)) + probeTrials;
  const pass = (t: Trial): boolean => (o.budget !== undefined ? !feasible(t) : feasible(t));
  let lo = 0;
  let hi = path.length;
  while (hi - lo > 1 && trials.length < greedyBudget && performance.now() < deadline) {
    const k = Math.min(o.population, hi - lo - 1, greedyBudget - trials.length);
    const idx = Array.from({ length: k }, (_, i) => lo + Math.round(((i + 1) * (hi - lo)) / (k + 1))).filter(
      (v, i, a) => v > lo && v < hi && a.indexOf(v) === i,
    );
    const done = await evaluateBatch(
      idx.map((i) => path[i] as Candidate),
      'greedy',
    );
    if (done.length === 0) break;
    for (const i of idx) {
      const t = byKey.get(candidateKey(path[i] as Candidate));
      if (t === undefined) continue;
      if (pass(t)) lo = Math.max(lo, i);
    }
    hi = Math.min(hi, ...idx.filter((i) => i > lo && !pass(byKey.get(candidateKey(path[i] as Candidate)) as Trial)));
  }

  // Evolution: each generation `population` children of the fittest trials, seeded.
  let generation = 0;
  while (remaining() > 0 && performance.now() < deadline) {
    const rng = createRng(deriveSeed(o.seed, 1000 + generation));
    const ranked = [...trials].sort((a, b) => fitness(b) - fitness(a) || a.index - b.index);
    const parents = ranked.slice(0, Math.max(2, Math.min(8, ranked.length)));
    if (parents.length === 0) parents.push({ index: -1, origin: 'seed', candidate: dense, result: undefined as unknown as TrialResult, latencyMs: 0 });
    const pick = (): Candidate => {
      const a = parents[Math.floor(rng.next() * parents.length)] as Trial;
      const b = parents[Math.floor(rng.next() * parents.length)] as Trial;
      return (parents.indexOf(a) < parents.indexOf(b) ? a : b).candidate;
    };
    const children: Candidate[] = [];
    const keys = new Set(byKey.keys());
    for (let attempt = 0; children.length < Math.min(o.population, remaining()) && attempt < 200; attempt++) {
      const base = rng.next() < 0.3 ? crossover(pick(), pick(), rng) : pick();
      const child = mutate(base, space, rng);
      const k = candidateKey(child);
      if (keys.has(k)) continue;
      keys.add(k);
      children.push(child);
    }
    if (children.length === 0) break;
    await evaluateBatch(children, `evolution ${generation + 1}`);
    generation++;
  }

  const entry = (t: Trial): FrontEntry => ({
    trial: t.index,
    origin: t.origin,
    valAccuracy: t.result.valAccuracy,
    bytes: t.result.bytes,
    latencyMs: t.latencyMs,
    flops: t.result.flops,
    feasible: feasible(t),
    layers: t.candidate.layers,
    lr: t.candidate.lr,
    ...(t.candidate.mode !== undefined ? { mode: t.candidate.mode } : {}),
  });
  if (trials.length === 0) throw new WhittleError('BAD_ARGUMENT', 'the search ran no trial; give --trials ≥ 1 and a --time long enough for one');
  const winner = [...trials].sort((a, b) => fitness(b) - fitness(a) || a.index - b.index)[0] as Trial;
  let best = winner;
  const probe64 = firstSamples(data.train, 64);
  // Bytes of a candidate's structure, untrained, as the writer counts them.
  const measure = async (c: Candidate): Promise<number> =>
    (await compressCandidate(model, c, probe64, { epochs: 0, batchSize: o.batchSize, normalization: o.normalization, seed: o.seed, threads: 1, roundTo })).file
      .length;
  if (o.target === 'size' && o.budget !== undefined && o.fillBudget !== false && feasible(winner)) {
    // 6% under the budget: the final fine-tune moves the weights, and the entropy-coded bytes with
    // them (LeNet-300-100: +3% over the structure's bytes after 8 epochs).
    const fills = await budgetFills(winner.candidate, space, prior, measure, { target: FILL_MARGIN * o.budget });
    log(`optimize: ${fills.length} budget fill(s) of trial ${winner.index + 1} (${winner.result.bytes} of ${o.budget} bytes)`);
    const done = await evaluateBatch(fills, 'fill', fills.length);
    best = [winner, ...done].filter(feasible).sort((a, b) => b.result.valAccuracy - a.result.valAccuracy || a.index - b.index)[0] ?? winner;
  }
  // The table's entries are single timings taken whenever each structure first came up; with a
  // latency target the few fastest feasible structures are timed again side by side (each
  // compressed untrained: latency does not depend on the weights' values) and the fastest is taken.
  let reranked: OptimizeResult['reranked'];
  const rerankCount = o.rerank ?? 3;
  if (o.target === 'latency' && o.budget === undefined && rerankCount > 1 && feasible(winner)) {
    const seen = new Set<string>();
    const top = [...trials]
      .filter(feasible)
      .sort((a, b) => fitness(b) - fitness(a) || a.index - b.index)
      .filter((t) => {
        const key = JSON.stringify([t.candidate.layers, t.candidate.mode ?? '']);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .slice(0, rerankCount);
    if (top.length > 1) {
      const probe = firstSamples(data.train, 64);
      const x = inputBatch(model, data.validation, Math.min(o.latency.batch, data.validation.count), o.normalization);
      const cases = [];
      for (const t of top) {
        const r = await compressCandidate(model, t.candidate, probe, {
          epochs: 0,
          batchSize: o.batchSize,
          normalization: o.normalization,
          seed: o.seed,
          roundTo,
          threads: 1,
        });
        cases.push({ name: `trial ${t.index + 1}`, model: r.model, feeds: { [r.model.graph.inputs[0]?.name ?? 'input']: x } });
      }
      const rows = await compareLatency(cases, [{ backend: o.latency.runtime, threads: o.latency.threads }], {
        rounds: o.latency.rounds ?? 5,
      });
      reranked = top.map((t, i) => ({ trial: t.index, tableMs: t.latencyMs, ms: rows[i]?.ms ?? Number.POSITIVE_INFINITY }));
      const times = reranked.map((r) => r.ms);
      best = top[times.indexOf(Math.min(...times))] ?? winner;
      log(
        `optimize: the ${top.length} fastest feasible structures re-timed side by side: ${reranked.map((r) => `trial ${r.trial + 1} ${r.ms.toFixed(3)} ms (table ${r.tableMs.toFixed(3)})`).join(', ')} → trial ${best.index + 1}`,
      );
    }
  }
  const met = feasible(best);
  const message = met
    ? undefined
    : o.budget !== undefined
      ? `no trial met the budget ${o.budget} (closest: ${metric(best)}); the closest candidates are in front.json — raise the budget or allow more trials`
      : `no trial kept validation accuracy within ${(100 * o.maxDrop).toFixed(2)} points of the input's; the closest candidates are in front.json — allow a larger drop or more trials`;
  if (message !== undefined) log(`optimize: ${message}`);

  // The winner: fine-tuned longer on the training side, written, measured once on the test set.
  let finalCandidate = best.candidate;
  let grown: OptimizeResult['finalCandidate'];
  if (o.target === 'size' && o.budget !== undefined && o.finalFill !== false && met && finalEpochs > 0) {
    const margin = best.candidate.mode === 'variational' ? FILL_MARGIN : FINAL_MARGIN_MAGNITUDE;
    const more = await keepMoreFill(best.candidate, space, measure, { target: margin * o.budget });
    if (more !== undefined) {
      finalCandidate = more;
      grown = { layers: more.layers, bytes: await measure(more) };
      log(
        `optimize: the final spends the budget: every layer keeps more weights, ${best.result.bytes} → ${grown.bytes} bytes untrained (${JSON.stringify(more.layers)})`,
      );
    }
  }
  const finalTrain = firstSamples(data.train, o.finalTrainSamples ?? data.train.count);
  const input = own ? model : withNormalization(model, o.normalization);
  const evalOpts = { normalization: o.normalization, threads: o.threads };
  // The final's teachers: the input, or the --teacher models, each fed its own normalization.
  let teachers: OptimizeResult['teachers'];
  let teacherSet: { teacher: Model | Model[]; teacherNormalization?: Normalization[] } = { teacher: input };
  if (loaded.length > 0) {
    teachers = [];
    for (const t of loaded) {
      const valAccuracy = (await evaluate(t.model, data.validation, { normalization: t.normalization, threads: o.threads })).accuracy;
      const r = recordedSplit(t.model);
      const split =
        r === undefined
          ? 'unrecorded'
          : 'seed' in r && r.seed === o.data.splitSeed && r.fraction === o.data.valSplit && r.samples === data.train.count + data.validation.count
            ? 'same'
            : 'other';
      teachers.push({ path: t.path, normalization: t.normalization, valAccuracy, split });
      log(`optimize: teacher ${t.path} (inputs ${t.normalization}): validation ${(100 * valAccuracy).toFixed(2)}%`);
      if (split !== 'same')
        log(
          `optimize: warning: teacher ${t.path} ${split === 'unrecorded' ? 'records no training split' : 'was trained with another validation split'}; it may have trained on the validation samples the final is chosen on — train it with --split-seed ${o.data.splitSeed} --val-split ${o.data.valSplit}`,
        );
    }
    teacherSet = own
      ? { teacher: loaded.map((t) => t.model) }
      : { teacher: loaded.map((t) => t.model), teacherNormalization: loaded.map((t) => t.normalization) };
  }
  let distillation: OptimizeResult['distillation'];
  let shiftProbe: OptimizeResult['shiftProbe'];
  if (o.distill !== false && finalEpochs > 0) {
    // Chosen on validation: the final's candidate fine-tuned as a trial is (same samples, epochs,
    // seed), distilled with each setting.
    const td = await trialData(o.data, model);
    const probe = async (d: DistillChoice, shift: number): Promise<number> => {
      const r = await compressCandidate(input, finalCandidate, td.train, {
        epochs,
        batchSize: o.batchSize,
        normalization: o.normalization,
        seed: o.seed,
        roundTo,
        threads: 1,
        klWeight: 1 / data.train.count,
        ...teacherSet,
        distill: d,
        ...(shift > 0 ? { shift } : {}),
      });
      return (await evaluate(r.model, td.validation, { normalization: o.normalization, threads: 1 })).accuracy;
    };
    const probes: DistillProbe[] = [];
    for (const d of DISTILL_CHOICES) {
      const valAccuracy = await probe(d, 0);
      probes.push({ ...d, valAccuracy });
      log(`optimize: distillation T = ${d.temperature}, alpha = ${d.alpha}: validation ${(100 * valAccuracy).toFixed(2)}% after a trial-sized fine-tune`);
    }
    const top = probes.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a));
    distillation = { probes, chosen: { temperature: top.temperature, alpha: top.alpha } };
    if ((o.shifts ?? 0) > 0) {
      const shift = o.shifts as number;
      const valAccuracy = await probe(distillation.chosen, shift);
      shiftProbe = { shift, valAccuracy, without: top.valAccuracy, used: valAccuracy > top.valAccuracy };
      log(
        `optimize: images shifted by up to ${shift} px: validation ${(100 * valAccuracy).toFixed(2)}% vs ${(100 * top.valAccuracy).toFixed(2)}% without → ${shiftProbe.used ? 'shifted' : 'not shifted'}`,
      );
    }
  }
  const chosenDistill = distillation?.chosen;
  const teacher = {
    ...(chosenDistill !== undefined && chosenDistill.alpha > 0 ? { ...teacherSet, distill: chosenDistill } : {}),
    ...(shiftProbe?.used === true ? { shift: shiftProbe.shift } : {}),
  };
  log(`optimize: fine-tuning the chosen candidate (trial ${best.index + 1}) for ${finalEpochs} epochs`);
  let final = await compressCandidate(input, finalCandidate, finalTrain, {
    epochs: finalEpochs,
    batchSize: o.batchSize,
    normalization: o.normalization,
    seed: o.seed,
    roundTo,
    threads: o.threads ?? 1,
    klWeight: 1 / data.train.count,
    ...teacher,
  });
  let finalVal = (await evaluate(final.model, data.validation, evalOpts)).accuracy;
  let trimmed: OptimizeResult['trimmed'];
  if (met && o.target === 'size' && o.budget !== undefined && final.file.length > o.budget && final.form === 'container') {
    const before = { bytes: final.file.length, val: finalVal };
    const fit = await trimToBudget(final.model, finalCandidate, o.budget, probe64, o);
    if (fit !== undefined) {
      final = fit.compressed;
      finalVal = (await evaluate(final.model, data.validation, evalOpts)).accuracy;
      trimmed = { fraction: fit.fraction, bytesBefore: before.bytes, valAccuracyBefore: before.val };
      log(
        `optimize: the final file (${before.bytes} bytes) was over the budget; ${(100 * fit.fraction).toFixed(2)}% of each layer's remaining weights pruned: ${final.file.length} bytes, validation ${(100 * before.val).toFixed(2)}% → ${(100 * finalVal).toFixed(2)}%`,
      );
    }
  }
  const file = join(o.out, final.form === 'container' ? 'model.wtl' : 'model.onnx');
  const onnx = join(o.out, 'model.onnx');
  writeFileAtomic(file, [final.file]);
  if (final.form === 'container') writeFileAtomic(onnx, [encodeModel(final.model)]);
  const finalTest = (await evaluate(final.model, data.test, evalOpts)).accuracy;
  const baseVal = (await evaluate(model, data.validation, evalOpts)).accuracy;
  const baseTest = (await evaluate(model, data.test, evalOpts)).accuracy;
  const finalLatency = await table.lookup(finalCandidate, o.latency);
  const finalFlops = modelStats(final.model, SHAPE_RULES).flops;
  // The table's entries were timed whenever each structure first came up, under whatever load the
  // machine had then; the latency target's answer is re-timed side by side (the two models
  // alternating within each round) on validation images.
  let latencyCheck: OptimizeResult['latencyCheck'];
  // Every target: a size or FLOPs search may still make the model slower (thinned layers whose
  // channel counts run on slower kernels), and the table's entries were timed apart.
  {
    const x = inputBatch(model, data.validation, Math.min(o.latency.batch, data.validation.count), o.normalization);
    const feeds = (m: Model) => ({ [m.graph.inputs[0]?.name ?? 'input']: x });
    const rounds = o.latency.rounds ?? 5;
    const rows = await compareLatency(
      [
        { name: 'input', model, feeds: feeds(model) },
        { name: 'chosen', model: final.model, feeds: feeds(final.model) },
      ],
      [{ backend: o.latency.runtime, threads: o.latency.threads }],
      // `whittle bench`'s warm-up and runs: onnxruntime-web's WebAssembly needs the longer warm-up.
      { rounds },
    );
    const [a, b] = rows;
    if (a !== undefined && b !== undefined) {
      latencyCheck = { inputMs: a.ms, chosenMs: b.ms, speedup: b.speedup, rounds };
      log(
        `optimize: re-timed side by side (${rounds} rounds): input ${a.ms.toFixed(3)} ms/batch, chosen ${b.ms.toFixed(3)} ms/batch = ${b.speedup.toFixed(2)}× faster`,
      );
      if (o.target !== 'latency' && b.speedup < 0.95)
        log(
          `optimize: note: the chosen model runs at ${b.speedup.toFixed(2)}× the input's speed (${o.latency.runtime}, ${o.latency.threads} thread(s), batch ${o.latency.batch}); ${roundTo === 1 ? '--round-to auto (the default) or 8 keeps thinned convolutions on the fast kernels, ' : ''}--target latency searches for speed`,
        );
    }
  }
  const result: OptimizeResult = {
    target: o.target,
    roundTo,
    budget: o.budget ?? null,
    maxDrop: o.maxDrop,
    baseline: { valAccuracy: baseVal, testAccuracy: baseTest, bytes: baseBytes, denseBytes, latencyMs: baseLatency, flops: baseFlops },
    trialBaseline: reference,
    front: paretoFront(trials).map(entry),
    trials: trials.length,
    fillTrials: trials.filter((t) => t.origin === 'fill').length,
    trialEpochs: epochs,
    finalEpochs,
    ...(lrProbe !== undefined ? { lrProbe } : {}),
    chosen: { ...entry(best), met },
    ...(best !== winner ? { filledFrom: entry(winner) } : {}),
    ...(grown !== undefined ? { finalCandidate: grown } : {}),
    ...(distillation !== undefined ? { distillation } : {}),
    ...(teachers !== undefined ? { teachers } : {}),
    ...(shiftProbe !== undefined ? { shiftProbe } : {}),
    ...(trimmed !== undefined ? { trimmed } : {}),
    final: {
      valAccuracy: finalVal,
      testAccuracy: finalTest,
      bytes: final.file.length,
      latencyMs: finalLatency,
      flops: finalFlops,
      file,
      onnx,
      withinBudget:
        o.budget === undefined ? null : (o.target === 'size' ? final.file.length : o.target === 'latency' ? finalLatency : finalFlops / baseFlops) <= o.budget,
    },
    ratio: { bytes: denseBytes / final.file.length, latency: baseLatency / finalLatency, flops: baseFlops / finalFlops },
    ...(latencyCheck !== undefined ? { latencyCheck } : {}),
    ...(reranked !== undefined ? { reranked } : {}),
    message,
    latencyTable: { path: table.path, measured: table.measured, reused: table.hits },
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.compareUniform) {
    // The same bytes (size: the chosen structure's, measured the same way), the same input, the
    // same final fine-tune and distillation, the same trim to the budget.
    const probe = firstSamples(data.train, 64);
    const structureBytes = async (c: Candidate): Promise<number> =>
      (await compressCandidate(input, c, probe, { epochs: 0, batchSize: o.batchSize, normalization: o.normalization, seed: o.seed, threads: 1, roundTo })).file
        .length;
    const u = await uniformCandidate(space, finalCandidate, o.target, { bytes: structureBytes, latencyMs: finalLatency, flops: finalFlops }, table, o);
    log(`optimize: uniform comparison — every layer ${JSON.stringify(Object.values(u.layers)[0])}, fine-tuned for ${finalEpochs} epochs`);
    let uf = await compressCandidate(input, u, finalTrain, {
      epochs: finalEpochs,
      batchSize: o.batchSize,
      normalization: o.normalization,
      seed: o.seed,
      roundTo,
      threads: o.threads ?? 1,
      klWeight: 1 / data.train.count,
      ...teacher,
    });
    let uTrimmed: number | undefined;
    if (o.target === 'size' && o.budget !== undefined && uf.file.length > o.budget && uf.form === 'container') {
      const fit = await trimToBudget(uf.model, u, o.budget, probe, o);
      if (fit !== undefined) {
        uf = fit.compressed;
        uTrimmed = fit.fraction;
      }
    }
    result.uniform = {
      valAccuracy: (await evaluate(uf.model, data.validation, evalOpts)).accuracy,
      testAccuracy: (await evaluate(uf.model, data.test, evalOpts)).accuracy,
      bytes: uf.file.length,
      latencyMs: await table.lookup(u, o.latency),
      flops: modelStats(uf.model, SHAPE_RULES).flops,
      layers: u.layers,
      ...(u.mode !== undefined ? { mode: u.mode } : {}),
      ...(uTrimmed !== undefined ? { trimmed: uTrimmed } : {}),
    };
  }
  writeFileAtomic(join(o.out, 'front.json'), [new TextEncoder().encode(`${JSON.stringify({ front: result.front, trials: trials.map(entry) }, null, 1)}\n`)]);
  // result.json last: its presence marks a finished search.
  writeFileAtomic(resultPath, [new TextEncoder().encode(`${JSON.stringify(result, null, 1)}\n`)]);
  return result;
}

/**
 * One setting for every layer at (at most) the chosen model's cost: the chosen model's most
 * common format, its learning rate and mode, and — size — the least uniform sparsity whose
 * structure's file is no larger than the chosen structure's (bisected on the writer's bytes, exact:
 * variational dropout may not drop more), or — latency, FLOPs — the widest uniform width whose
 * structure costs no more than the chosen model.
 */
export async function uniformCandidate(
  space: SearchSpace,
  chosen: Candidate,
  target: Target,
  cost: { bytes: (c: Candidate) => Promise<number>; latencyMs: number; flops: number },
  table: Pick<LatencyTable, 'lookup' | 'structure'>,
  o: Pick<OptimizeOptions, 'latency'>,
): Promise<Candidate> {
  const formats = Object.values(chosen.layers).map((p) => p.format);
  const format = [...new Set(formats)].sort((a, b) => formats.filter((f) => f === b).length - formats.filter((f) => f === a).length)[0] ?? 'float';
  const all = (p: LayerPolicy): Candidate => ({
    lr: chosen.lr,
    layers: Object.fromEntries(space.layers.map((l) => [l.name, { ...p }])),
    ...(chosen.mode !== undefined ? { mode: chosen.mode } : {}),
    ...(chosen.mode === 'variational' ? { exact: true as const } : {}),
  });
  if (target === 'size') {
    const goal = await cost.bytes(chosen);
    const at = (s: number): Candidate => all({ width: 1, sparsity: Math.round(s * 10000) / 10000, format });
    if ((await cost.bytes(at(0))) <= goal) return at(0);
    let lo = 0; // over the goal
    let hi = 0.9999;
    if ((await cost.bytes(at(hi))) > goal) return at(hi);
    for (let i = 0; i < 14; i++) {
      const mid = (lo + hi) / 2;
      if ((await cost.bytes(at(mid))) <= goal) hi = mid;
      else lo = mid;
    }
    return at(hi);
  }
  // Widths shared by every thinnable layer; the output layer keeps its width.
  const widths = space.layers.find((l) => l.widths.length > 1)?.widths ?? [1];
  let last = all({ width: 1, sparsity: 0, format });
  for (const w of widths) {
    const c: Candidate = {
      lr: chosen.lr,
      layers: Object.fromEntries(space.layers.map((l) => [l.name, { width: l.widths.includes(w) ? w : 1, sparsity: 0, format }])),
    };
    last = c;
    const fits =
      target === 'latency' ? (await table.lookup(c, o.latency)) <= cost.latencyMs : modelStats(await table.structure(c), SHAPE_RULES).flops <= cost.flops;
    if (fits) return c;
  }
  return last;
}

/**
 * The per-layer latency table as a cost estimate: the input's latency plus, for each layer, what
 * changing that layer alone to its setting changes (each measured once on the runtime).
 */
async function latencyEstimate(space: SearchSpace, dense: Candidate, table: LatencyTable, s: LatencySettings, base: number): Promise<CostEstimate> {
  const alone = new Map<string, number>();
  for (const l of space.layers) {
    for (const w of l.widths)
      for (const f of l.formats) {
        const c: Candidate = { ...dense, layers: { ...dense.layers, [l.name]: { width: w, sparsity: 0, format: f } } };
        alone.set(`${l.name}|${w}|${f}`, (await table.lookup(c, s)) - base);
      }
  }
  return (c) => {
    let ms = base;
    for (const [name, p] of Object.entries(c.layers)) ms += alone.get(`${name}|${p.width}|${p.format}`) ?? 0;
    return ms;
  };
}

export type { Model };
