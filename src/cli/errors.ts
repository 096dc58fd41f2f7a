// Library errors speak in options (`options.keepFloat 'auto'`); on the command line the same
// message names the flag (`--keep-float auto`). One error format for every command.
import type { Command } from 'commander';
import { WhittleError } from '../ir/errors.js';
import { printable } from '../ir/text.js';

/** Library option names whose flag is named differently, or that a data flag supplies. */
const OPTION_FLAGS: Readonly<Record<string, string>> = {
  accuracyFloor: '--floor',
  samples: '--data',
  training: '--data',
  evaluation: '--eval-data',
  size: '--image-size',
};

/** The long flags of a command by the option name they set ('keepFloat' → '--keep-float'). */
export function flagsOf(cmd: Command | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of cmd?.options ?? []) if (o.long !== undefined && !o.negate) out.set(o.attributeName(), o.long);
  return out;
}

/**
 * `message` with each `options.name 'value'` written as the command line says it: `--flag value`
 * (names without a flag on this command stay as they are).
 *
 * ```ts
 * flagTerms("options.keepFloat 'auto' needs options.scheme 'ptq'", new Map([['keepFloat', '--keep-float'], ['scheme', '--scheme']]));
 * // "--keep-float auto needs --scheme ptq"
 * ```
 */
export function flagTerms(message: string, flags: ReadonlyMap<string, string>): string {
  return message.replace(/options\.([A-Za-z][A-Za-z0-9]*)((?: '[^']*')(?:(?:,| or) '[^']*')*)?/g, (all, name: string, values: string | undefined) => {
    const flag = flags.get(name) ?? (flags.size > 0 ? OPTION_FLAGS[name] : undefined);
    if (flag === undefined) return all;
    // "options.scheme 'qat', 'binary' or 'ternary'" → "--scheme qat, binary or ternary"
    return values === undefined ? flag : `${flag}${values.replace(/'([^']*)'/g, '$1')}`;
  });
}

/** Exit codes: usage errors 2, failures 1, interrupted (Ctrl-C) 130. */
export const EXIT = { failure: 1, usage: 2, interrupted: 130 } as const;

/** The one line every error is printed as, and the exit code it ends with. */
export function describeError(e: unknown, cmd: Command | undefined): { line: string; exitCode: number } {
  if (e instanceof WhittleError) {
    const usage = e.code === 'BAD_ARGUMENT';
    return { line: `whittle: error [${e.code}]: ${printable(flagTerms(e.message, flagsOf(cmd)))}`, exitCode: usage ? EXIT.usage : EXIT.failure };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    line: `whittle: error [INTERNAL]: internal error: ${printable(message)} (run again with --verbose for the stack trace, and please report it)`,
    exitCode: EXIT.failure,
  };
}
