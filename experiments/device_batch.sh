#!/bin/bash
# Fill tables on a lent accelerator inside a deadline, then pack what was written.
#   bash experiments/device_batch.sh SECONDS DATA_DIR "TABLE [run.py options]" ...
# Each quoted argument is one `experiments/run.py` call, run in order under what is
# left of SECONDS; a call cut off at the deadline loses only the cell in progress (run.py
# writes each finished seed at once). Records and figures newer than the start are packed
# into $OUT/results.tgz (or ./device_results.tgz) with the log, ready to unpack at the root;
# per-seed figures land in runs/cache/figures (git-ignored) and are packed too.
set -u
deadline=$(( $(date +%s) + $1 )); data=$2; shift 2
out=${OUT:-.}; stamp=$(mktemp); log=$out/device_batch.log
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
python -c "import jax, jaxclust; print('jax', jax.__version__, jax.devices())" | tee -a "$log"
for call in "$@"; do
    left=$(( deadline - $(date +%s) ))
    (( left > 20 )) || { echo "deadline: skipped $call" | tee -a "$log"; continue; }
    echo "== $call ($left s left)" | tee -a "$log"
    # shellcheck disable=SC2086  # one call's words
    timeout "$left" python experiments/run.py $call --data-dir "$data" 2>&1 | tee -a "$log"
done
find experiments/results runs/cache/figures -newer "$stamp" -type f > "$stamp.list" 2>/dev/null
tar czf "$out/results.tgz" -T "$stamp.list"
echo "packed $(wc -l < "$stamp.list") files" | tee -a "$log"
