#!/bin/sh
# The 1-epoch wall time of `whittle train` at the family defaults (src/train/defaults.ts) against
# the previous general defaults (batch 64, momentum, lr 0.05, x/255, cosine), interleaved in fresh
# processes; prints each run and the median of the per-round ratios (new / old wall time, > 1.00 =
# the new defaults take longer) and the test accuracy both reached.
# usage: sh bench/one-epoch.sh [MODEL]   (after node scripts/build.mjs; env ROUNDS (3), THREADS (2),
#        OLD: the flags of the "old" run, e.g. OLD="--lr 0.03 --label-smoothing 0" for the MLP
#        defaults before label smoothing, OLD="--lr-schedule cosine" for them before the linear decay)
set -e
MODEL=${1:-lenet-300-100}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
W="node dist/src/cli/main.js"
OLD=${OLD:-"--batch 64 --optimizer momentum --lr 0.05 --normalize x/255 --label-smoothing 0 --lr-schedule cosine"}
PICK='const r=JSON.parse(require("fs").readFileSync(0));console.log(r.seconds.toFixed(2),r.samplesPerSec,(100*r.accuracy).toFixed(2),r.batch,r.optimizer,r.lr,r.lrSchedule,r.normalize)'
i=1
ratios=""
while [ "$i" -le "$ROUNDS" ]; do
  o=$($W train --model "$MODEL" --epochs 1 --seed "$i" --threads "$THREADS" $OLD --json 2>/dev/null | node -e "$PICK")
  n=$($W train --model "$MODEL" --epochs 1 --seed "$i" --threads "$THREADS" --json 2>/dev/null | node -e "$PICK")
  echo "round $i  old: $o  (seconds samples/s test% batch optimizer lr schedule normalize)"
  echo "round $i  new: $n"
  ratios="$ratios $(echo "$n $o" | awk '{printf "%.3f", $1 / $9}')"
  i=$((i + 1))
done
echo "$ratios" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%s: median new/old 1-epoch wall time %.2fx over %d rounds\n", "'"$MODEL"'", m, NR}'
