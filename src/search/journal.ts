// The search's journal: one JSON line per finished trial, appended as it ends, so an interrupted
// search (even kill -9) resumes with every trial it finished and proposes the same next ones.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { TrialResult } from './types.js';

export interface JournalHeader {
  type: 'search';
  /** The settings the journal belongs to; resuming with other settings is refused. */
  settings: string;
}

/**
 * Reads a journal's results by trial key; a torn last line (killed mid-write) is ignored. `text`
 * is the file as read ('' when there is none), so the caller need not read it again.
 */
export function readJournal(path: string): { header: JournalHeader | undefined; results: Map<string, TrialResult>; text: string } {
  const results = new Map<string, TrialResult>();
  let header: JournalHeader | undefined;
  if (!existsSync(path)) return { header, results, text: '' };
  const text = readFileSync(path, 'utf8');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    const o = v as { type?: string; result?: TrialResult };
    if (o.type === 'search') header = v as JournalHeader;
    else if (o.type === 'trial' && o.result !== undefined) results.set(o.result.key, o.result);
  }
  return { header, results, text };
}

/** Appends one line (the write of a short line is one append, then fsync-free: a torn tail is skipped on read). */
export function appendJournal(path: string, entry: JournalHeader | { type: 'trial'; result: TrialResult }): void {
  appendFileSync(path, `${JSON.stringify(entry)}\n`);
}
