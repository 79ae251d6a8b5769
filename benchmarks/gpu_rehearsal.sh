#!/usr/bin/env bash
# The full-size rehearsal on a lent GPU machine, in one call of at most ~9 minutes
# (LIMIT_S, default 480 s, with BUDGET_S = LIMIT_S - 120 for rehearse.py --budget-s).
#
#   OUT=/some/folder bash benchmarks/gpu_rehearsal.sh
#
# The machine has Python with torch, torchaudio, numpy, pandas, pyyaml, tqdm and
# matplotlib but no network: the other packages the library imports come as
# wheels carried in .whl/ (Python 3.12 manylinux builds):
#   soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 espeakng-loader==0.2.4
#   textdistance==4.6.3 jiwer==4.0.0 RapidFuzz==3.14.6 click==8.5.1 psutil==7.2.2
# (psutil only meters memory; without it getrusage's high-water mark is used).
# No dvc or dvclive: benchmarks/rehearse.py calls the library's stage functions.
#
# Writes $OUT/rehearsal_gpu.json (rewritten after every stage, so a run cut by
# the time limit keeps what it measured) and $OUT/rehearsal_gpu.log.
# CLIP_FRACTION (default 1: all 13,100 clips) and CNN_STEPS (default: whole
# epochs) trade completeness for time; the JSON says what was projected.
set -euo pipefail
OUT=${OUT:-rehearsal-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."

if [ -d .whl ]; then
    python -m pip install --quiet --no-index --find-links .whl \
        soundfile espeakng-loader textdistance jiwer psutil 2>&1 | tail -n 3 || true
fi
python - <<'PY'
import importlib
missing = []
for name in ("soundfile", "espeakng_loader", "textdistance", "jiwer", "torchaudio"):
    try:
        importlib.import_module(name)
    except ImportError:
        missing.append(name)
if missing:
    raise SystemExit(f"missing packages: {', '.join(missing)} (carry their wheels in .whl/)")
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "")
PY

export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
args=(--scale "${SCALE:-full}" --device "${DEVICE:-cuda}" --workers "${WORKERS:-$(nproc)}"
      --clip-fraction "${CLIP_FRACTION:-1}" --work "$WORK" --out "$OUT/rehearsal_gpu.json")
[ -n "${CNN_STEPS:-}" ] && args+=(--cnn-steps "$CNN_STEPS")
[ -n "${ASR_STEPS:-}" ] && args+=(--asr-steps "$ASR_STEPS")
# Two limits. The budget: the ASR runs stop training when their share of it is
# spent and are projected, so the run ends with a whole record on its own. The
# hard limit, above it, ends a run that overruns anyway (a stage that hangs);
# it leaves a minute of the lent ten for start-up and copying back.
LIMIT_S=${LIMIT_S:-480}
BUDGET_S=${BUDGET_S:-$((LIMIT_S - 120))}
args+=(--budget-s "$BUDGET_S")
echo "rehearsal: budget ${BUDGET_S} s, hard limit ${LIMIT_S} s, clip fraction ${CLIP_FRACTION:-1}"
status=0
timeout --kill-after=20 "$LIMIT_S" python -u benchmarks/rehearse.py "${args[@]}" 2>&1 \
    | tee "$OUT/rehearsal_gpu.log" || status=$?
# 124: timeout's TERM ended it; 137: its KILL, 20 s later
case "$status" in
    124 | 137) echo "rehearsal: cut at the hard limit; $OUT/rehearsal_gpu.json has the stages done" ;;
esac
exit "$status"
