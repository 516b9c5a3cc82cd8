#!/usr/bin/env bash
# The paper-scale runs of issues 6 and 7 (and the AMP check of the shared loop), all at once on one GPU.
#
#   MINUTES=6 OUT=/tmp/gpu scripts/gpu-runs.sh        # DLF_DATA_DIR must hold mnist/ and tinyshakespeare/
#
# Each model trains for a fixed wall-clock budget (--time-limit) in its own process; the small models share the
# GPU, so each figure is what that budget reaches on a shared card (a lower bound on a card of its own).
# Writes OUT/table.md, OUT/logs.txt and OUT/runs.tgz (run folders without checkpoints).
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
wait

for f in "$R"/*.log; do echo "== $f"; tail -25 "$f"; done > "$OUT/logs.txt"
$PY benchmarks/bench_generative.py --table "$R" > "$OUT/table.md" 2>&1
for n in char-rnn mnist-cnn; do [ -f "$R/$n/summary.json" ] && { echo "== $n"; cat "$R/$n/summary.json"; }; done >> "$OUT/table.md"
tar czf "$OUT/runs.tgz" --exclude=checkpoints -C "$OUT" runs
ls -la "$OUT"
cat "$OUT/table.md"
