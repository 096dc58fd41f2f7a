#!/bin/sh
# Issue 10's speed target: static int8 (QDQ, calibrated from .npy) against fp32 on every CNN of the
# test corpus, at batch 1 and 32, onnxruntime-node at 1 and 2 threads; `whittle bench` prints
# medians of fresh sessions side by side and the ratio to fp32 (× column: > 1.00 = int8 faster).
# Corpus CNNs on 3×32×32 get seeded random inputs (bench's fallback for non-MNIST inputs).
# usage: sh bench/quant-corpus.sh   (after node scripts/build.mjs; env ROUNDS (5), OUT (a temp dir))
set -e
C=test/fixtures/corpus
OUT=${OUT:-$(mktemp -d)}
ROUNDS=${ROUNDS:-5}
W="node dist/src/cli/main.js"
for spec in resnet18.opset17:images32.input.npy mobilenet_v2.opset17:images32.input.npy mobilenet_v3_small.opset17:images32.input.npy \
  shufflenet_v2.opset17:images32.input.npy efficientnet_b0.opset17:images32.input.npy \
  mnist_resnet20.opset17:mnist.calib.npy mnist_mobilenet_v3.opset17:mnist.calib.npy; do
  m=${spec%%:*}
  data=${spec#*:}
  $W quantize --model "$C/$m.onnx" --data "$C/$data" --calibration-samples 16 --threads 1 --out "$OUT/$m.int8.onnx" >/dev/null
  for b in 1 32; do
    $W bench --model "$C/$m.onnx" --model "$OUT/$m.int8.onnx" --threads 1,2 --batch $b --rounds "$ROUNDS"
  done
done
