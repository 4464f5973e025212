# SPDX-License-Identifier: Apache-2.0
"""The shipped model against a production recognizer, PP-OCRv4's (RapidOCR), side by side in one run:
CPU latency per crop and word accuracy on the external evaluation sets.

Both run with ONNX Runtime, 1 intra-op thread (`--threads`), batch 1, on the same crops, each with its own
preprocessing and decoding, timed from the decoded image to the text:

* ours: the shipped `ocrnet_cpu_small`, exported with the real CLI (`python -m tao_ocrnet export
  export.checkpoint=... export.onnx_file=...`, parity check included) and run the way `ocrnet deploy` does:
  the sidecar's `ModelArch`, `runtime.ort_backend.open_session` / `ort_predictor`, the deploy transform
  (`data.transforms.build_transform` of the spec with the model's input size, e.g. resize to 1x32x160, gray,
  (x/255-0.5)/0.5) and the shared `model.codec` CTC decoder.
* PP-OCRv4: the recognizer of the PyPI package `rapidocr-onnxruntime` (`pip install -e .[bench]`), its
  `ch_PP-OCRv4_rec_infer.onnx` and the character dictionary stored in that file's metadata, both shipped
  inside the wheel (nothing is downloaded). The package's own `TextRecognizer` (its ONNX Runtime session,
  `resize_norm_img`, `CTCLabelDecode`) with the `Rec` section of the package's config.yaml, threads set to
  1 and batch 1; only the recognizer is loaded, never the detector or the angle classifier. Its rules:
  BGR crop (the package's `LoadImage`), height 48, width ceil(48 * w / h) padded with zeros to
  max(320, that) (so at batch 1 every crop is at least 3x48x320), (x/255-0.5)/0.5, greedy CTC.

Image files are decoded before timing, by each model's own loader. The two models take turns crop by crop
(the order alternating), after `--warmup` untimed crops; the table gives the median and 90th percentile
over all timed crops, and the ONNX Runtime call alone (`session.run` on the already preprocessed input).
PP-OCRv4 reads case and punctuation; both outputs and the labels are compared lower-cased with only 0-9a-z
kept (the charset of our model).

Data (`--data`): folders holding `gt_new.txt` (`relpath<TAB>label`), by default the external sets of
`python recipes/external_sets.py /tmp/ext` (trdg_hard, trdg_clean) where they exist; without any, a test
split of our own generator is rendered. The accuracy target applies to external sets only (folders with the
manifest.json of recipes/external_sets.py); another folder, such as the recipe's own test split, is measured
beside them without a verdict.

Targets (issue 17): our latency <= 1/8 of PP-OCRv4's per crop; word accuracy on an external set >= 75%.

    python benchmarks/bench_vs_ppocr.py [--data DIR ...] [--limit N] [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

LATENCY_TARGET = 1 / 8
ACCURACY_TARGET = 0.75
EXTERNAL_MANIFEST = "manifest.json"
DEFAULT_SETS = (Path("/tmp/ext/trdg_hard"), Path("/tmp/ext/trdg_clean"))
GT_NAME = "gt_new.txt"
PPOCR_REC = "PP-OCRv4 rec"


def normalise(text: str) -> str:
    """Lower-cased, only 0-9a-z kept: PP-OCRv4 reads case and punctuation, our model and the labels do not."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


@dataclass
class Model:
    name: str
    load: Callable[[Path], Any]  # image file -> decoded image, the model's own loader (untimed)
    read: Callable[[Any], str]  # decoded image -> text: preprocessing, ONNX Runtime, decoding (timed)
    prepare: Callable[[Any], Any]  # decoded image -> the model's input batch (for the run-only timing)
    run: Callable[[Any], Any]  # the ONNX Runtime call alone
    size_mb: float
    e2e_ms: list[float] = field(default_factory=list)
    run_ms: list[float] = field(default_factory=list)


def export_ours(checkpoint: str, onnx: Path) -> None:
    """The real `ocrnet export` (its own process, its parity check)."""
    command = [
        *(sys.executable, "-m", "tao_ocrnet", "export"),
        f"export.checkpoint={checkpoint}",
        f"export.onnx_file={onnx}",
        f"results_dir={onnx.parent / 'export'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-3000:]}")


def ours(onnx: Path, threads: int) -> Model:
    from tao_ocrnet.actions.evaluate import spec_for_arch
    from tao_ocrnet.config.spec import ExperimentSpec
    from tao_ocrnet.data.images import load_image
    from tao_ocrnet.data.transforms import build_transform
    from tao_ocrnet.model.codec import make_codec
    from tao_ocrnet.runtime.ort_backend import open_session, ort_predictor
    from tao_ocrnet.runtime.sidecar import read_sidecar

    arch = read_sidecar(onnx, "export.onnx_file").model_arch()
    predict = ort_predictor(open_session(onnx, "export.onnx_file", threads=threads))
    transform = build_transform(spec_for_arch(ExperimentSpec(), arch))
    codec = make_codec(arch)

    def prepare(img: Any) -> Any:
        return transform(img)[None]

    def read(img: Any) -> str:
        return codec.decode(*predict(prepare(img)))[0][0]

    shape = f"{arch.input_channel}x{arch.input_height}x{arch.input_width}"
    return Model(
        f"ocrnet_cpu_small ({shape})",
        lambda path: load_image(path, arch.input_channel),
        read,
        prepare,
        predict,
        onnx.stat().st_size / 1e6,
    )


def ppocr(threads: int) -> Model:
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
    from rapidocr_onnxruntime.utils import LoadImage, read_yaml

    root = Path(rapidocr_onnxruntime.__file__).parent
    config = read_yaml(str(root / "config.yaml"))["Rec"]
    model_path = root / config["model_path"]
    config.update(model_path=str(model_path), intra_op_num_threads=threads, inter_op_num_threads=1, rec_batch_num=1)
    rec = TextRecognizer(config)
    channels, height, width = rec.rec_image_shape

    def prepare(img: np.ndarray) -> np.ndarray:
        # TextRecognizer.__call__'s own batch width for a batch of one: max(W / H, w / h).
        ratio = max(width / height, img.shape[1] / img.shape[0])
        return rec.resize_norm_img(img, ratio)[None].astype(np.float32)

    version = getattr(rapidocr_onnxruntime, "__version__", None) or _dist_version("rapidocr-onnxruntime")
    return Model(
        f"{PPOCR_REC} (rapidocr-onnxruntime {version}, {channels}x{height}x>={width})",
        LoadImage(),
        lambda img: rec([img])[0][0][0],
        prepare,
        rec.session,
        model_path.stat().st_size / 1e6,
    )


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def load_set(folder: Path, limit: int | None) -> list[tuple[Path, str]]:
    from tao_ocrnet.data.gt import entry_path, parse_gt_file

    gt = folder / GT_NAME
    if not gt.is_file():
        sys.exit(f"--data: {folder} has no {GT_NAME} (relpath<TAB>label); make the external sets with "
                 "`python recipes/external_sets.py /tmp/ext` or pass folders that hold one")  # fmt: skip
    items = []
    for entry in parse_gt_file(gt, key=f"--data {folder}").entries[:limit]:
        path = entry_path(folder, entry.rel_path)
        if isinstance(path, Path):
            items.append((path, entry.label))
    return items


def timed(fn: Callable[[Any], Any], arg: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn(arg)
    return out, (time.perf_counter() - started) * 1e3


def measure(models: list[Model], items: list[tuple[Path, str]], warmup: int) -> dict[str, float]:
    """Word accuracy per model on `items`; latencies appended to each model's lists (turns crop by crop)."""
    correct = dict.fromkeys((m.name for m in models), 0)
    for i, (path, label) in enumerate(items):
        order = models if i % 2 == 0 else models[::-1]
        images = {m.name: m.load(path) for m in order}
        for m in order:
            text, ms = timed(m.read, images[m.name])
            correct[m.name] += normalise(text) == normalise(label)
            if i >= warmup:
                m.e2e_ms.append(ms)
        for m in order:
            batch = m.prepare(images[m.name])
            _, ms = timed(m.run, batch)
            if i >= warmup:
                m.run_ms.append(ms)
    return {name: n / max(1, len(items)) for name, n in correct.items()}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, nargs="+", default=None, help="folders with gt_new.txt (default: /tmp/ext/*)")
    p.add_argument("--limit", type=int, default=None, help="crops per set (default all; --quick 100)")
    p.add_argument("--quick", action="store_true", help="100 crops per set (smoke test)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads, both models")
    p.add_argument("--warmup", type=int, default=20, help="untimed crops at the start of each set")
    p.add_argument("--checkpoint", default="ocrnet_cpu_small", help="our model (export.checkpoint)")
    args = p.parse_args(argv)
    if args.limit is None and args.quick:
        args.limit = 100
    C.header("bench_vs_ppocr: the shipped model vs PP-OCRv4's recognizer, ONNX Runtime, batch 1", args)
    try:
        import rapidocr_onnxruntime  # noqa: F401  (the optional benchmark extra)
    except ImportError:
        print("SKIP: PP-OCRv4's recognizer comes from rapidocr-onnxruntime: pip install -e .[bench]")
        return 0

    import torch

    torch.set_num_threads(args.threads)  # our preprocessing makes a torch tensor; keep torch to the same threads
    root = Path(tempfile.mkdtemp(prefix="bench_vs_ppocr_"))
    try:
        if args.data is None:
            sets = {d.name: d for d in DEFAULT_SETS if (d / GT_NAME).is_file()}
            if not sets:
                print("no external set under /tmp/ext (python recipes/external_sets.py /tmp/ext): rendering a test "
                      "split of our own generator instead (NOT an external set; no accuracy target)")  # fmt: skip
                C.synth(root / "synth", 50, 300, seed=9, fonts_split=True)
                sets = {"own synth test": root / "synth" / "test"}
        else:
            sets = {d.name: d for d in args.data}
        # the accuracy target is for external sets only: the folders recipes/external_sets.py writes, with a manifest
        external = [name for name, folder in sets.items() if (folder / EXTERNAL_MANIFEST).is_file()]
        data = {name: load_set(folder, args.limit) for name, folder in sets.items()}

        onnx = root / "ocrnet.onnx"
        export_ours(args.checkpoint, onnx)
        models = [ours(onnx, args.threads), ppocr(args.threads)]
        probe = C.SpeedProbe()
        accuracy: dict[str, dict[str, float]] = {}
        for name, items in data.items():
            probe.sample()
            accuracy[name] = measure(models, items, args.warmup)
        probe.sample()

        ours_m, theirs_m = models
        ratio = C.median(ours_m.e2e_ms) / C.median(theirs_m.e2e_ms)
        run_ratio = C.median(ours_m.run_ms) / C.median(theirs_m.run_ms)
        headers = ["model", "ONNX MB", "ms/crop median", "p90", "ORT run only", "ours/theirs"]
        headers += [f"acc {name} ({len(items)})" for name, items in data.items()]
        rows = []
        for m in models:
            row: list[Any] = [m.name, m.size_mb, C.median(m.e2e_ms), percentile(m.e2e_ms, 90), C.median(m.run_ms)]
            row.append(f"{ratio:.3f} (run {run_ratio:.3f})" if m is ours_m else "1")
            rows.append(row + [accuracy[name][m.name] for name in data])
        print()
        C.table(headers, rows)
        timed_n = len(ours_m.e2e_ms)
        print(f"({timed_n} timed crops per model, medians over crops; ms/crop = decoded image to text: preprocessing, "
              f"ONNX Runtime at {args.threads} intra-op thread(s), decoding; accuracy compared lower-cased, 0-9a-z "
              "only)")  # fmt: skip
        for name in data:
            acc = {m.name: accuracy[name][m.name] for m in models}
            per_ms = {m.name: 100 * acc[m.name] / C.median(m.e2e_ms) for m in models}
            print(f"{name}: word accuracy per ms per crop: ours {per_ms[ours_m.name]:.1f} %/ms, "
                  f"PP-OCRv4 {per_ms[theirs_m.name]:.1f} %/ms")  # fmt: skip
        print()
        ok = [C.verdict("latency ours / PP-OCRv4 (median ms per crop)", ratio, LATENCY_TARGET, higher_is_better=False)]
        for name in external:
            ok.append(C.verdict(f"word accuracy, ours, {name}", accuracy[name][ours_m.name], ACCURACY_TARGET, ""))
        print()
        probe.report()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{sum(ok)} of {len(ok)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
