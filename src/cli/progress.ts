// Human progress on stderr: a bar with ETA, loss and accuracy on a terminal; one line per epoch
// otherwise (CI logs, pipes).
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../train/trainer.js';

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
        `${label}: ${r.reason === 'blow-up' ? `loss blew up to ${r.loss.toPrecision(3)}` : 'non-finite loss'} at step ${r.step}; went back to step ${r.restoredStep} and halved the learning rate to ${r.lr.toPrecision(3)}\n`,
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
