// The manifest.json that `whittle export --web` writes beside the page, and the page reads.
/** What `whittle export --web` writes beside the page (manifest.json). */
export interface WebManifest {
  title: string;
  models: { id: string; label: string; file: string; bytes: number; format: 'wtl' | 'onnx'; lazy?: boolean }[];
  /** Per-sample input shape (without the batch dimension). */
  inputShape: number[];
  /** Byte → float lookup of the model's input normalization (256 entries). */
  normalization: { name: string; table: number[] };
  test: { file: string; count: number; sampleSize: number; bytes: number } | undefined;
}
