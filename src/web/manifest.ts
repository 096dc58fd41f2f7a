// The manifest.json that `whittle export --web` writes beside the page, and the page reads.
/** What `whittle export --web` writes beside the page (manifest.json). */
export interface WebManifest {
  title: string;
  models: { id: string; label: string; file: string; bytes: number; format: 'wtl' | 'onnx'; lazy?: boolean }[];
  /** Per-sample input shape (without the batch dimension). */
  inputShape: number[];
  /** Byte → float lookup of the model's input normalization (256 entries); used for `uint8` samples and drawings. */
  normalization: { name: string; table: number[] };
  /**
   * The shipped samples, deflated: `uint8` (MNIST/CIFAR bytes, normalized in the page) followed by
   * one uint8 label each; or `float32` (the user's own samples, fed as read, little-endian)
   * followed, when `labelled`, by one int32 label each (little-endian).
   */
  test: { file: string; count: number; sampleSize: number; bytes: number; dtype?: 'uint8' | 'float32'; labelled?: boolean } | undefined;
  /** Whether the page offers a drawing pad (28×28 one-channel bytes, as MNIST); default true. */
  drawable?: boolean;
}
