/** Stable machine-readable codes for every error Whittle raises on purpose. */
export type ErrorCode =
  | 'BAD_ONNX'
  | 'BAD_CONTAINER'
  | 'UNSUPPORTED_OP'
  | 'NO_GRADIENT'
  | 'UNSUPPORTED_OPSET'
  | 'SHAPE_MISMATCH'
  | 'INVALID_GRAPH'
  | 'BAD_ARGUMENT'
  | 'DATA_NOT_FOUND'
  | 'BAD_DATA'
  | 'NAN_LOSS'
  | 'IO'
  | 'RUNTIME'
  | 'MISSING_DEPENDENCY';

/**
 * An error a user can act on: `message` names the problem and the fix, `code` is stable.
 *
 * ```ts
 * throw new WhittleError('BAD_ARGUMENT', '--lr must be > 0, got -1');
 * ```
 */
export class WhittleError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WhittleError';
    this.code = code;
  }
}
