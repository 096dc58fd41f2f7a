// BullMQ's sandboxed processor for `whittle worker`: one trial per job, in a child process.
import type { Job } from 'bullmq';
import { readBlob } from './queue.js';
import { runTrial } from './trial.js';
import type { TrialResult, TrialTask } from './types.js';

export default async function processTrial(job: Job<TrialTask & { queue: string }>): Promise<TrialResult> {
  const { queue, ...task } = job.data;
  return runTrial(task, (key) => readBlob(queue, key));
}
