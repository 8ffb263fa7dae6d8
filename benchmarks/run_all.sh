#!/usr/bin/env bash
# Run benchmarks/latency_overhead.py for each runtime in its own environment, then print one summary table
# (tool/bare and sampler on/off per runtime, with 95 % intervals and verdicts).
#
#   benchmarks/run_all.sh [options for every run, e.g. --rounds 2 --malloc glibc --model resnet50]
#
# Environment: ENVS (default .envs), RUNTIMES (default "torch tf mxnet onnx").
# onnx: the model is exported in the torch environment (overhead/bare.py export_onnx, the package's torch→ONNX
# exporter), then measured in the onnx environment, where the product's onnx workers run (no torch loaded).
# Logs go to benchmarks/results/run_all/<runtime>.log. Like the script, this reports and always exits 0.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
ENVS=${ENVS:-.envs}
RUNTIMES=${RUNTIMES:-torch tf mxnet onnx}
LOGS=benchmarks/results/run_all
mkdir -p "$LOGS"
SCRIPT=benchmarks/latency_overhead.py
began=$(date +%s)
keys=()
for runtime in $RUNTIMES; do
    extra=()
    python=$ENVS/$runtime/bin/python
    if [ "$runtime" = onnx ]; then
        onnx_file=$LOGS/model.onnx
        if "$ENVS/torch/bin/python" "$SCRIPT" --runtime onnx "$@" --export-onnx "$onnx_file"; then
            extra=(--onnx-path "$onnx_file")
        else
            echo "run_all: ONNX export failed" >&2
        fi
    fi
    echo "=== $runtime ($python)" >&2
    "$python" "$SCRIPT" --runtime "$runtime" "${extra[@]}" "$@" 2>&1 | tee "$LOGS/$runtime.log"
    key=$(sed -n 's/^wrote .* \[\(.*\)\] in .*/\1/p' "$LOGS/$runtime.log" | tail -n 1)
    keys+=("${key:-$runtime: did not complete}")
done
echo
echo "latency overhead per runtime ($(( $(date +%s) - began )) s; $(date -u '+%Y-%m-%d %H:%M UTC'); logs in $LOGS)"
"$ENVS/torch/bin/python" "$SCRIPT" "$@" --summary "${keys[@]}"
exit 0
