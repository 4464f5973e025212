#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run the `gpu` tests (tests/test_gpu.py: train/evaluate/inference/export on CUDA, mixed precision, every visible
# GPU at once, TensorRT) from the source tree and print a short summary with timings.
#
# Made for a fresh GPU machine with PyTorch (a CUDA build), PyTorch Lightning, onnx and onnxruntime, no network and
# none of our other packages: the package is used from src/ (PYTHONPATH), our other dependencies are checked, and
# missing ones are installed from a folder of carried wheels when there is one. To carry them, on a machine with
# network, for the GPU machine's Python version and platform:
#   pip download -d wheels --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
#       pydantic PyYAML jsonschema Jinja2 lmdb pillow numpy tqdm boto3 scipy pytest
# and copy `wheels/` into the source tree. TensorRT tests run only where `import tensorrt` works.
#
# Usage: scripts/gpu_check.sh [pytest arguments]   Environment: PYTHON (default python3), WHEELS (default wheels).
# Exit status: pytest's (0 when every test passed or was skipped), 3 when a dependency is missing.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-wheels}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

# import name -> distribution name (the first four are expected preinstalled, the rest can come from $WHEELS)
DEPS="torch:torch pytorch_lightning:pytorch-lightning onnx:onnx onnxruntime:onnxruntime pydantic:pydantic
yaml:PyYAML jsonschema:jsonschema jinja2:Jinja2 lmdb:lmdb PIL:pillow numpy:numpy tqdm:tqdm boto3:boto3 scipy:scipy
pytest:pytest"

missing() {  # the distributions whose import fails, one per line
    "$PY" - $DEPS <<'EOF'
import importlib, sys
for pair in sys.argv[1:]:
    module, dist = pair.split(":")
    try:
        importlib.import_module(module)
    except Exception:
        print(dist)
EOF
}

echo "== gpu_check $(date -u '+%Y-%m-%d %H:%M UTC') in $PWD"
if ! command -v "$PY" >/dev/null; then
    echo "gpu_check: $PY not found; set PYTHON to the Python that has PyTorch"
    exit 3
fi
lacking=$(missing)
if [ -n "$lacking" ] && [ -d "$WHEELS" ]; then
    echo "installing from $WHEELS: $(echo $lacking)"
    # shellcheck disable=SC2086  # one distribution per word
    "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" $lacking || echo "pip install from $WHEELS failed"
    lacking=$(missing)
fi
if [ -n "$lacking" ]; then
    echo "dependencies: missing $(echo $lacking)"
    echo "gpu_check: cannot run the gpu tests; carry wheels (see the top of this script) into $WHEELS/ or pip install them"
    exit 3
fi
echo "dependencies: all present"
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
if ! "$PY" -c "import tao_ocrnet.cli, tao_ocrnet.actions.train, tao_ocrnet.actions.export" 2>"$report/import.txt"; then
    echo "gpu_check: the package does not import from src/: $(tail -1 "$report/import.txt")"
    exit 3
fi
"$PY" - <<'EOF'
import importlib.util
import torch
cuda = torch.cuda.is_available()
gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else "none"
trt = "yes" if importlib.util.find_spec("tensorrt") else "no"
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); GPUs: {gpus}; tensorrt: {trt}")
EOF

started=$(date +%s)
# --noconftest: tests/conftest.py pulls in fixtures whose packages (MCP SDK, moto, ...) a GPU machine need not have.
"$PY" -m pytest -q --noconftest -p no:cacheprovider -m gpu --junitxml="$report/junit.xml" tests/test_gpu.py "$@" \
    >"$report/pytest.txt" 2>&1
rc=$?
elapsed=$(( $(date +%s) - started ))
if [ ! -s "$report/junit.xml" ]; then
    tail -30 "$report/pytest.txt"
    echo "gpu_check: pytest produced no report (exit $rc)"
    exit "$rc"
fi
[ "$rc" -ne 0 ] && tail -60 "$report/pytest.txt"
"$PY" - "$report/junit.xml" "$elapsed" <<'EOF'
import sys
import xml.etree.ElementTree as ET

cases = list(ET.parse(sys.argv[1]).getroot().iter("testcase"))
counts = {"passed": 0, "failed": 0, "skipped": 0}
skip_reasons = set()
for case in cases:
    outcome, note = "passed", ""
    for child in case:
        if child.tag in ("failure", "error"):
            outcome, note = "failed", (child.get("message") or "").splitlines()[0][:100]
        elif child.tag == "skipped":
            outcome, note = "skipped", (child.get("message") or "").split(": ", 1)[-1]
            skip_reasons.add(note)
    counts[outcome] += 1
    print(f"  {outcome.upper():7s} {float(case.get('time', 0)):7.1f} s  {case.get('name')}  {note}".rstrip())
if counts["skipped"] == len(cases) and skip_reasons == {"no CUDA visible"}:
    print(f"no CUDA visible; {len(cases)} gpu tests skipped")
print(f"summary: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped in {sys.argv[2]} s")
EOF
exit "$rc"
