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

# One Python start (importing torch and Lightning takes seconds) checks the dependencies and, when they are all
# there, that the package imports from src/, then describes torch and the GPUs.
# Exit 0: all good; 4: the distributions whose import fails, one per line; 5: the package does not import.
preflight() {
    "$PY" - $DEPS <<'EOF'
import importlib, importlib.util, sys
lacking = []
for pair in sys.argv[1:]:
    module, dist = pair.split(":")
    try:
        importlib.import_module(module)
    except Exception:
        lacking.append(dist)
if lacking:
    print("\n".join(lacking))
    sys.exit(4)
print("dependencies: all present", flush=True)
try:
    import tao_ocrnet.actions.export, tao_ocrnet.actions.train, tao_ocrnet.cli  # noqa: F401
except Exception as exc:
    print(f"gpu_check: the package does not import from src/: {type(exc).__name__}: {exc}")
    sys.exit(5)
import torch
cuda = torch.cuda.is_available()
gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else "none"
trt = "yes" if importlib.util.find_spec("tensorrt") else "no"
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); GPUs: {gpus}; tensorrt: {trt}")
EOF
}

echo "== gpu_check $(date -u '+%Y-%m-%d %H:%M UTC') in $PWD"
if ! command -v "$PY" >/dev/null; then
    echo "gpu_check: $PY not found; set PYTHON to the Python that has PyTorch"
    exit 3
fi
checked=$(preflight)
rc=$?
if [ "$rc" -eq 4 ] && [ -d "$WHEELS" ]; then
    echo "installing from $WHEELS: $(echo $checked)"
    # shellcheck disable=SC2086  # one distribution per word
    "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" $checked || echo "pip install from $WHEELS failed"
    checked=$(preflight)
    rc=$?
fi
if [ "$rc" -eq 4 ]; then
    echo "dependencies: missing $(echo $checked)"
    echo "gpu_check: cannot run the gpu tests; carry wheels (see the top of this script) into $WHEELS/ or pip install them"
    exit 3
fi
echo "$checked"
[ "$rc" -ne 0 ] && exit 3
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT

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
