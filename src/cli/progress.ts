// Human progress on stderr: a bar with ETA, loss and accuracy on a terminal; one line per epoch
// otherwise (CI logs, pipes).
import cliProgress from 'cli-progress';
import type { PipelineEvent, PipelineListener } from '../pipeline/events.js';
import type { RunLog } from '../train/run-log.js';
import { logEpochs } from '../train/run-log.js';
import type { ProgressEvent } from '../train/trainer.js';
import type { Recovery } from '../train/recovery.js';

/** One recovery's cause, for the progress line. */
function whatWentWrong(r: Recovery): string {
  if (r.reason === 'blow-up') return `loss blew up to ${r.loss.toPrecision(3)}`;
  if (r.reason === 'collapse')
    return `training accuracy collapsed to ${(100 * (r.accuracy ?? 0)).toFixed(1)}% from ${(100 * (r.bestAccuracy ?? 0)).toFixed(1)}% (loss ${r.loss.toPrecision(3)})`;
  return 'non-finite loss';
}

export interface Reporter {
  (e: ProgressEvent): void;
  stop(): void;
}

const fmt = (x: number, d = 4): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

export function createReporter(options: { quiet?: boolean; label?: string } = {}): Reporter {
  const tty = process.stderr.isTTY === true && !options.quiet;
  let bar: cliProgress.SingleBar | undefined;
  let epochs = 0;
  const label = options.label ?? 'train';
  const report = ((e: ProgressEvent) => {
    if (options.quiet) return;
    if (e.type === 'start') {
      epochs = e.epochs;
      if (e.startEpoch > 0 || e.startStep > 0) process.stderr.write(`${label}: resuming at epoch ${e.startEpoch + 1}, step ${e.startStep}\n`);
    } else if (e.type === 'step' && tty) {
      if (bar === undefined) {
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${label} epoch {epoch}/{epochs} [{bar}] {percentage}% | ETA {eta_formatted} | loss {loss} | acc {acc} | lr {lr}`,
            hideCursor: true,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.stepsPerEpoch, e.step, { epoch: e.epoch + 1, epochs, loss: fmt(e.loss), acc: fmt(e.accuracy), lr: e.lr.toPrecision(3) });
      }
      if (e.step % 10 === 0 || e.step === e.stepsPerEpoch)
        bar.update(e.step, { epoch: e.epoch + 1, epochs, loss: fmt(e.loss), acc: fmt(e.accuracy), lr: e.lr.toPrecision(3) });
    } else if (e.type === 'recovery') {
      bar?.stop();
      bar = undefined;
      const r = e.recovery;
      process.stderr.write(
        `${label}: ${whatWentWrong(r)} at step ${r.step}; went back to step ${r.restoredStep} and halved the learning rate to ${r.lr.toPrecision(3)}\n`,
      );
    } else if (e.type === 'epoch') {
      bar?.stop();
      bar = undefined;
      const r = e.record;
      const val = r.valAccuracy !== undefined ? ` | val loss ${fmt(r.valLoss ?? NaN)} acc ${fmt(r.valAccuracy)}` : '';
      process.stderr.write(
        `${label} epoch ${r.epoch}/${epochs}: loss ${fmt(r.loss)} acc ${fmt(r.trainAccuracy)}${val} | ${Math.round(r.samplesPerSec)} samples/s, ${r.seconds.toFixed(1)} s\n`,
      );
    }
  }) as Reporter;
  report.stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return report;
}

/**
 * A pipeline's events on stderr and in the run log: a progress reporter per training stage
 * (labelled with the stage, or `label stage` with `prefix`), one line per finished stage with `stages`, notes as `label: note`.
 */
export function pipelineReporter(
  label: string,
  log: RunLog | undefined,
  o: { stages?: boolean; quiet?: boolean; prefix?: boolean } = {},
): PipelineListener & { stop(): void } {
  const reporters = new Map<string, { report: (e: ProgressEvent) => void; stop(): void }>();
  const listener = ((e: PipelineEvent) => {
    if (e.type === 'train') {
      let r = reporters.get(e.stage);
      if (r === undefined) {
        const reporter = createReporter({ label: o.prefix ? `${label} ${e.stage}` : e.stage, quiet: o.quiet });
        r = { report: logEpochs(log, e.stage, reporter), stop: () => reporter.stop() };
        reporters.set(e.stage, r);
      }
      r.report(e.event);
    } else if (e.type === 'stage') {
      log?.write({ type: 'stage', stage: e.stage, accuracy: e.accuracy, seconds: e.seconds });
      if (o.stages && !o.quiet) process.stderr.write(`${label}: ${e.stage} — accuracy ${(100 * e.accuracy).toFixed(2)}% (${e.seconds.toFixed(1)} s)\n`);
    } else if (!o.quiet) process.stderr.write(`${label}: ${e.message}\n`);
  }) as PipelineListener & { stop(): void };
  listener.stop = () => {
    for (const r of reporters.values()) r.stop();
  };
  return listener;
}
