// Strings read from files (tensor and node names, metadata) are printed only through `printable`:
// a name with escape sequences or control bytes must not drive the user's terminal.

/**
 * `s` with control characters (C0, DEL, C1), line separators and the replacement character of
 * invalid UTF-8 shown as visible escapes; printable text is unchanged.
 *
 * ```ts
 * printable('fc1\u001b[2J'); // 'fc1\\x1b[2J'
 * ```
 */
export function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Like `printable`, but keeps line breaks (for multi-line messages). */
export function printableLines(s: string): string {
  return s.split('\n').map(printable).join('\n');
}
