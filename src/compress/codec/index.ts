// The Deep Compression codec: canonical Huffman coding and the .wtl container.
export { fromHalfBits, halfExact, roundToHalf, toHalfBits } from '../../ir/half.js';
export { BitReader, BitWriter, canonicalCodes, codedBits, huffmanCodeLengths, HuffmanDecoder, MAX_CODE_LENGTH } from './huffman.js';
export {
  type ContainerBreakdown,
  type EncodeOptions,
  type SharedWeight,
  type TensorBytes,
  CONTAINER_MAGIC,
  CONTAINER_VERSION,
  MAX_INDEX_BITS,
  decodeContainer,
  encodeContainer,
  readContainer,
  sharedValues,
  writeContainer,
} from './container.js';
