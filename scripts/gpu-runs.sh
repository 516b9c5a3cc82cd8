#!/usr/bin/env bash
# The paper-scale runs of issues 6 and 7 (and the AMP check of the shared loop), all at once on one GPU.
#
#   MINUTES=6 OUT=/tmp/gpu scripts/gpu-runs.sh        # DLF_DATA_DIR must hold mnist/ and tinyshakespeare/
#
# Each model trains for a fixed wall-clock budget (--time-limit) in its own process; the small models share the
# GPU, so each figure is what that budget reaches on a shared card (a lower bound on a card of its own).
# Writes OUT/table.md, OUT/logs.txt and OUT/runs.tgz (run folders without checkpoints).
#
# The sentiment unit (issue 18.3) runs beside them when IMDB is there (IMDB=path, default
# $DLF_DATA_DIR/imdb/reviews.jsonl from `dlf data download imdb`; MR from $DLF_DATA_DIR/sentiment/): a byte-level
# mLSTM of SU_HIDDEN=4096 units (Radford et al.'s size) learns from the 75,000 train and unlabelled reviews for
# SU_MINUTES=3, then reads its final cell states on MR (10 folds) and IMDB train/test, with the bag-of-words floor
# in the same run. Its read-out (about 50,000 whole reviews through the network, then L1 fits on 25,000 x 4,096
# states in threads) comes after the clock, so its training minutes are fewer than the others' (an estimate
# until the first GPU run: lower SU_HIDDEN, or pass SU_ARGS="--imdb-reviews 10000", if it overruns). Without
# IMDB it is skipped with one line in table.md, and the rest runs.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}
M=${MINUTES:-6}
R=$OUT/runs
mkdir -p "$R"
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" >> "$OUT/gpu.txt" 2>&1

launch() {  # launch NAME [options...]: dlf run NAME on the GPU into $R/NAME, log in $R/NAME.log
  local name=$1; shift
  ($PY -m dlf run "$name" --out "$R/$name" --quiet --device cuda "$@") > "$R/$name.log" 2>&1 &
}

launch pixelcnn --time-limit "$M" ${PIXELCNN_ARGS:-}
launch vae --time-limit "$M" ${VAE_ARGS:-}
launch gan --time-limit "$M" ${GAN_ARGS:-}
launch char-rnn --time-limit "${CHAR_MINUTES:-5}" ${CHAR_ARGS:-}
launch mnist-cnn ${CNN_ARGS:-}
IMDB=${IMDB:-${DLF_DATA_DIR:-$HOME/.cache/dlf}/imdb/reviews.jsonl}
rm -f "$OUT/skipped.txt"
if [ -f "$IMDB" ]; then
  launch sentiment-unit --reviews "$IMDB" --cell mlstm --encoding bytes --hidden "${SU_HIDDEN:-4096}" --embed 64 \
    --seq-len 256 --batch-size 128 --dropout 0 --lr 1e-3 --eval-every 100000 --time-limit "${SU_MINUTES:-3}" \
    --jobs 12 ${SU_ARGS:-}
else
  echo "sentiment-unit: skipped: no IMDB reviews at $IMDB; run 'dlf data download imdb' (DLF_DATA_DIR set) or give IMDB=path" \
    | tee "$OUT/skipped.txt"
fi
wait

for f in "$R"/*.log; do echo "== $f"; tail -25 "$f"; done > "$OUT/logs.txt"
$PY benchmarks/bench_generative.py --table "$R" > "$OUT/table.md" 2>&1
cat "$OUT/skipped.txt" >> "$OUT/table.md" 2>/dev/null
for n in char-rnn mnist-cnn sentiment-unit; do [ -f "$R/$n/summary.json" ] && { echo "== $n"; cat "$R/$n/summary.json"; }; done >> "$OUT/table.md"
tar czf "$OUT/runs.tgz" --exclude=checkpoints -C "$OUT" runs
ls -la "$OUT"
cat "$OUT/table.md"
