// How a pipeline tells its caller what it is doing: one callback, three kinds of event. Nothing in
// src/pipeline/ prints; the CLI turns these into progress bars, stderr lines and run-log lines.
import type { ScheduleOptions } from '../train/schedule.js';
import type { ProgressEvent, TrainOptions } from '../train/trainer.js';

export type PipelineEvent =
  /** Progress of one training run of the pipeline; `stage` names it ('fine-tune', 'agp', 'distill', ...). */
  | { type: 'train'; stage: string; event: ProgressEvent }
  /** A stage finished, with the accuracy it measured (on the data the pipeline's docs name). */
  | { type: 'stage'; stage: string; accuracy: number; seconds: number }
  /** Something a user should know (a choice made, a hint); one line of text. */
  | { type: 'note'; message: string };

export type PipelineListener = (e: PipelineEvent) => void;

/**
 * Trainer settings shared by every training run a pipeline starts; the pipeline sets the epochs,
 * the validation data and the progress callback of each run.
 */
export interface TrainSettings extends Omit<TrainOptions, 'epochs' | 'schedule' | 'validation' | 'onProgress' | 'checkpointPath' | 'resume'> {
  /** The learning-rate schedule of a run of `epochs` epochs; default: cosine to 0, no warm-up. */
  schedule?: (epochs: number) => ScheduleOptions;
}

/** The trainer options of one run of `epochs`: settings + schedule + progress reported as `stage`. */
export function runOptions(
  s: TrainSettings,
  epochs: number,
  stage: string,
  onEvent: PipelineListener | undefined,
  extra: Partial<TrainOptions> = {},
): TrainOptions {
  const { schedule, ...rest } = s;
  return {
    ...rest,
    epochs,
    schedule: schedule?.(epochs) ?? { schedule: { kind: 'cosine', minLr: 0 } },
    onProgress: onEvent === undefined ? undefined : (event) => onEvent({ type: 'train', stage, event }),
    ...extra,
  };
}
