# SPDX-License-Identifier: Apache-2.0
"""dataset_convert throughput vs its floor, and peak memory vs dataset size.

Synthetic crops are rendered once into a temporary folder (a pool), and image folders of the sizes
needed are made by copying pool files under new names (so N and 4N are real, distinct files).

1. Throughput: `convert_to_lmdb` as `ocrnet dataset_convert` calls it (progress bar on, its output
   discarded) vs the floor: reading the same gt file and image files and fully decoding each with
   PIL (open, load, convert to L), which convert must do too. Alternating, repeated, median.
   Target: convert time <= 2x the floor time.
2. Memory: convert runs in a child process for N and for 4N images (alternating); the child's peak
   RSS is its `ru_maxrss` (os.wait4 in a minimal launcher process, see LAUNCHER), cross-checked with
   the child's VmHWM. A child that only imports the same modules gives the baseline.
   Target: peak(4N) <= 1.2 x peak(N) + 4 MiB.

    python benchmarks/bench_convert.py [--quick] [--num-images N] [--mem-n N]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr
from pathlib import Path

import _common as C

TARGET_RATIO = 2.0
MEM_FACTOR = 1.2
MEM_SLACK_MB = 4.0

CHILD = r"""
import sys, threading, time
peak = {"RssAnon": 0, "RssFile": 0}
def status():
    with open("/proc/self/status") as fh:
        fields = (line.split() for line in fh)
        return {f[0].rstrip(":"): f[1] for f in fields if len(f) > 1 and f[0] in ("RssAnon:", "RssFile:", "VmHWM:")}
def poll():  # where the peak lives: anonymous heap vs file-backed pages (the LMDB map)
    while True:
        for k, v in status().items():
            if k in peak:
                peak[k] = max(peak[k], int(v))
        time.sleep(0.02)
threading.Thread(target=poll, daemon=True).start()
from tao_ocrnet.data.convert import convert_to_lmdb
if sys.argv[1] == "convert":
    convert_to_lmdb(sys.argv[2], sys.argv[3], sys.argv[4])
print("hwm", status()["VmHWM"], "anon", peak["RssAnon"], "file", peak["RssFile"])
"""

# Linux carries the RSS high-water mark of the pre-exec memory image into the new program's
# ru_maxrss. A child forked straight from this process (hundreds of MiB: torch, PIL) would report
# at least that much, whatever it did. So a minimal Python (-S: no site, ~10 MiB) forks the real
# child and reports the child's ru_maxrss from wait4: a floor of ~10 MiB, below any real peak.
LAUNCHER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-c", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print("maxrss", usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def make_pool(root: Path, size: int) -> list[tuple[Path, str]]:
    """Render `size` crops; returns (image path, label) pairs."""
    from tao_ocrnet.data.gt import parse_gt_file

    data = root / "pool"
    C.synth(data, size, 8, seed=2)
    parsed = parse_gt_file(data / "train" / "gt_new.txt")
    return [(data / "train" / e.rel_path, e.label) for e in parsed.entries]


def make_set(pool: list[tuple[Path, str]], folder: Path, count: int) -> Path:
    """`count` image files copied from the pool under new names, plus their gt file."""
    folder.mkdir(parents=True)
    lines = []
    for i in range(count):
        src, label = pool[i % len(pool)]
        name = f"img_{i:08d}{src.suffix}"
        shutil.copyfile(src, folder / name)
        lines.append(f"{name}\t{label}\n")
    gt = folder / "gt.txt"
    gt.write_text("".join(lines), encoding="utf-8")
    return gt


def time_convert(folder: Path, gt: Path, out: Path) -> float:
    from tao_ocrnet.data.convert import convert_to_lmdb

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with redirect_stderr(io.StringIO()):  # the tqdm bar the action shows
        summary = convert_to_lmdb(folder, gt, out)
    elapsed = time.perf_counter() - started
    assert summary.written > 0
    return elapsed


def time_floor(folder: Path, gt: Path) -> float:
    """Read the gt lines and every image file; decode each fully with PIL as convert does."""
    import warnings

    from PIL import Image

    started = time.perf_counter()
    n = 0
    with gt.open(encoding="utf-8") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for line in fh:
            rel, _, _label = line.rstrip("\n").partition("\t")
            data = (folder / rel).read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                im.convert("L")
            n += 1
    assert n > 0
    return time.perf_counter() - started


def child_peak_mb(args: list[str]) -> tuple[float, ...]:
    """Run the child under the launcher: its (ru_maxrss, VmHWM, wall s, peak RssAnon, peak RssFile); MiB."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, CHILD, *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    maxrss_kib, code = int(out[out.index("maxrss") + 1]), int(out[out.index("maxrss") + 2])
    if code != 0 or "hwm" not in out:
        raise RuntimeError(f"convert child failed with exit code {code}: {args}")
    wall = time.perf_counter() - started

    def mib(key: str) -> float:  # Linux reports KiB
        return int(out[out.index(key) + 1]) / 1024

    return maxrss_kib / 1024, mib("hwm"), wall, mib("anon"), mib("file")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sets, fewer rounds (~30 s)")
    p.add_argument("--num-images", type=int, default=None, help="images for the throughput test (4000; quick 1000)")
    p.add_argument("--mem-n", type=int, default=None, help="memory test N; 4N runs too (5000; quick 1500)")
    p.add_argument("--pool", type=int, default=None, help="distinct rendered crops (2000; quick 500)")
    p.add_argument("--rounds", type=int, default=None, help="throughput rounds (5; quick 3)")
    p.add_argument("--mem-rounds", type=int, default=None, help="memory rounds (2; quick 1)")
    args = p.parse_args(argv)
    q = args.quick
    fill = {"num_images": 1000 if q else 4000, "mem_n": 1500 if q else 5000, "pool": 500 if q else 2000}
    fill |= {"rounds": 3 if q else 5, "mem_rounds": 1 if q else 2}
    for key, value in fill.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    C.header("bench_convert: dataset_convert throughput and peak memory", args)
    probe = C.SpeedProbe()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        root = Path(tmp)
        t = time.monotonic()
        pool = make_pool(root, args.pool)
        sets = {
            "tp": (root / "tp", args.num_images),
            "n": (root / "n", args.mem_n),
            "4n": (root / "4n", 4 * args.mem_n),
        }
        gts = {k: make_set(pool, folder, count) for k, (folder, count) in sets.items()}
        image_mb = sum(f.stat().st_size for f in sets["tp"][0].iterdir()) / 2**20
        print(
            f"data: {len(pool)} crops rendered, sets of {args.num_images}, {args.mem_n} and {4 * args.mem_n} "
            f"images made in {time.monotonic() - t:.1f} s (mean image {image_mb * 2**20 / args.num_images:.0f} bytes)"
        )

        # 1. throughput
        folder, count = sets["tp"]
        out = root / "lmdb_tp"
        time_floor(folder, gts["tp"])  # warm the page cache for both
        conv, floor, ratios = [], [], []
        for r in range(args.rounds):
            probe.sample()
            if r % 2 == 0:
                c, f = time_convert(folder, gts["tp"], out), time_floor(folder, gts["tp"])
            else:
                f, c = time_floor(folder, gts["tp"]), time_convert(folder, gts["tp"], out)
            conv.append(c)
            floor.append(f)
            ratios.append(c / f)
        print()
        C.table(
            ["variant", "images", "s (median)", "img/s", "per round (s)"],
            [
                ["convert_to_lmdb", count, C.median(conv), count / C.median(conv), " ".join(f"{x:.2f}" for x in conv)],
                [
                    "floor: read + PIL decode",
                    count,
                    C.median(floor),
                    count / C.median(floor),
                    " ".join(f"{x:.2f}" for x in floor),
                ],
            ],
        )
        ratio = C.median(ratios)
        print(f"convert / floor time: {ratio:.3f}x (per round: {' '.join(f'{x:.2f}' for x in ratios)})")

        # 2. memory
        labels = {"base": "import only", "n": "convert N", "4n": "convert 4N"}
        counts = {"base": 0, "n": args.mem_n, "4n": 4 * args.mem_n}
        runs: dict[str, list[tuple[float, ...]]] = {k: [] for k in labels}
        lmdb_mb: dict[str, float] = {"base": 0.0}
        for r in range(args.mem_rounds):
            probe.sample()
            for key in ("base", "n", "4n") if r % 2 == 0 else ("4n", "n", "base"):
                if key == "base":
                    runs[key].append(child_peak_mb(["import"]))
                    continue
                out = root / f"lmdb_{key}"
                shutil.rmtree(out, ignore_errors=True)
                runs[key].append(child_peak_mb(["convert", str(sets[key][0]), str(gts[key]), str(out)]))
                lmdb_mb[key] = (out / "data.mdb").stat().st_size / 2**20
        med = {k: [C.median([run[i] for run in v]) for i in range(5)] for k, v in runs.items()}
        print()
        C.table(
            ["child", "images", "LMDB MiB", "ru_maxrss MiB", "per round", "VmHWM", "anon peak", "file peak", "wall s"],
            [
                [
                    labels[k],
                    counts[k],
                    lmdb_mb[k],
                    med[k][0],
                    " ".join(f"{run[0]:.1f}" for run in runs[k]),
                    med[k][1],
                    med[k][3],
                    med[k][4],
                    med[k][2],
                ]
                for k in labels
            ],
        )
        print("(medians; anon / file peak: largest RssAnon / RssFile seen by a 20 ms poller in the child)")
        base, pn, p4n = (med[k][0] for k in ("base", "n", "4n"))
        print(
            f"peak(4N) / peak(N) = {p4n / pn:.3f}; above the import-only baseline: N +{pn - base:.1f} MiB, "
            f"4N +{p4n - base:.1f} MiB (anon {med['4n'][3] - med['n'][3]:+.1f} MiB, file-backed "
            f"{med['4n'][4] - med['n'][4]:+.1f} MiB from N to 4N)"
        )
    probe.sample()
    print()
    probe.report()
    print()
    C.verdict("convert time / floor time (read + PIL decode)", ratio, TARGET_RATIO, higher_is_better=False)
    limit = MEM_FACTOR * pn + MEM_SLACK_MB
    C.verdict(
        f"peak RSS 4N / N (limit {MEM_FACTOR:g} x {pn:.1f} + {MEM_SLACK_MB:g} MiB = {limit:.1f} MiB; 4N {p4n:.1f} MiB)",
        p4n / pn,
        limit / pn,
        higher_is_better=False,
    )
    print(f"total time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
