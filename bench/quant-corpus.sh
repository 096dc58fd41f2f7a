#!/bin/sh
# Issue 10's size and speed targets over the test corpus: prints the size table (static int8 and
# fp16 bytes against fp32, every opset-17 model) and the speed table (fp32 vs static int8 with
# `whittle bench`, every CNN classifier, batch 1 and 32, 1 and 2 threads). See bench/quant-corpus.ts.
# usage: sh bench/quant-corpus.sh [sizes] [speed]   (env ROUNDS (5), RUNS (200), OUT (a temp dir), MODELS)
set -e
node scripts/build.mjs
node dist/bench/quant-corpus.js "$@"
