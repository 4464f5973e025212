# SPDX-License-Identifier: Apache-2.0
"""Corrupt and hostile input gets one clear error (exit 2, status FAILURE), or is skipped and counted: never a
crash, a hang, a traceback or a read outside its folder. Every case is a real file through the real CLI or
jobs layer: a cut-short data.mdb, a PAX-bomb archive, a FIFO named .png, a 12000x12000 PNG, a full disk."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tao_ocrnet.cli import main as cli
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.config.spec import ModelConfig
from tao_ocrnet.data.convert import convert_to_lmdb
from tao_ocrnet.data.datasets import LmdbDataset, RawGtDataset
from tao_ocrnet.data.filtering import SampleFilter
from tao_ocrnet.data.images import MAX_PIXELS_ENV, ImageRefusedError, decode_image
from tao_ocrnet.data.lmdb_io import check_lmdb
from tao_ocrnet.datasources.archives import ArchiveError, extract_once, inspect_archive
from tao_ocrnet.jobs.record import new_record
from tao_ocrnet.jobs.store import JobStore
from tao_ocrnet.model.checkpoint import checkpoint_metadata, save_model_file
from tao_ocrnet.model.ocrnet import build_model
from tao_ocrnet.results.status import read_status

from data_fixtures import ALNUM36, image_bytes, make_raw_set, write_charset
from guards import deadline
from jobs_fixtures import jobs_env, run, submit_wait, synth_root  # noqa: F401
from tiny_config import TINY_MODEL, TINY_TRAIN, cli_words

MODEL = {**TINY_MODEL, "input_width": 100, "input_height": 32}
LABELS = [ALNUM36[i : i + 3] for i in range(0, 30)]


def ocrnet(capsys, *argv: str) -> tuple[int, str]:
    """`ocrnet ARGV` in-process: (exit code, stderr)."""
    capsys.readouterr()
    code = cli(list(argv))
    return code, capsys.readouterr().err


def run_spec(capsys, action: str, tree: dict, folder: Path, seconds: int = 120) -> tuple[int, str]:
    """`ocrnet ACTION -e <tree written as YAML>` in-process, under a hang guard: (exit code, stderr)."""
    path = folder / f"{action}.yaml"
    path.write_text(yaml.safe_dump(tree))
    with deadline(seconds):
        return ocrnet(capsys, action, "-e", str(path))


def one_error(err: str, *needles: str) -> str:
    """The single `error:` line of `err` (no traceback), which must name every needle."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def last_status(folder: Path) -> dict:
    return read_status(folder / "status.json")[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw set, its LMDB (`good`), a character list and a random-weight model file."""
    root = tmp_path_factory.mktemp("corrupt")
    raw = make_raw_set(root / "raw", LABELS)
    convert_to_lmdb(raw.img_dir, raw.gt_file, root / "good", progress=False)
    write_charset(root / "character_list")
    arch = ModelArch.from_spec(ModelConfig(**MODEL), tuple(ALNUM36), 25)
    save_model_file(root / "model.pth", build_model(arch), arch)
    return root


def spec(data: Path, tmp_path: Path, train_dir: Path, **train) -> Path:
    tree = {
        "results_dir": str(tmp_path / "results"),
        "model": MODEL,
        "dataset": {
            "train_dataset_dir": [str(train_dir)],
            "val_dataset_dir": str(data / "good"),
            "character_list_file": str(data / "character_list"),
            "batch_size": 16,
            "workers": 0,
        },
        "train": {"num_epochs": 1, "optim": {"name": "adam", "lr": 0.001}, **train},
        "evaluate": {"checkpoint": str(data / "model.pth"), "test_dataset_dir": str(train_dir), "batch_size": 8},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def damaged_copy(data: Path, tmp_path: Path, how: str) -> Path:
    """A copy of the good LMDB, damaged as `how` says."""
    db = tmp_path / how
    shutil.copytree(data / "good", db)
    mdb = db / "data.mdb"
    if how == "truncated":
        os.truncate(mdb, mdb.stat().st_size - 4096)  # the last page gone, as after an interrupted copy
    elif how == "flipped":
        raw = bytearray(mdb.read_bytes())
        raw[2 * 4096 + 12] ^= 0xFF  # the first tree page's header (its node table bound)
        mdb.write_bytes(bytes(raw))
    else:
        env = lmdb.open(str(db))
        with env.begin(write=True) as txn:
            txn.put(b"num-samples", {"negative": b"-5", "absurd": b"99999999999999"}[how])
        env.close()
    return db


DAMAGE = {
    "truncated": "data.mdb is cut short",
    "flipped": "is damaged",
    "negative": "num-samples is -5",
    "absurd": "num-samples is 99999999999999",
}


# --- LMDB ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_lmdb_in_train_and_evaluate_is_one_clear_error(data, tmp_path, capsys, how):
    db = damaged_copy(data, tmp_path, how)
    path = spec(data, tmp_path, db)
    for action, key in (("train", "dataset.train_dataset_dir"), ("evaluate", "evaluate.test_dataset_dir")):
        code, err = ocrnet(capsys, action, "-e", str(path))
        assert code == 2
        one_error(err, key, str(db), DAMAGE[how])
        status = last_status(tmp_path / "results" / action)
        assert status["status"] == "FAILURE" and DAMAGE[how] in status["message"]


def test_cut_short_lmdb_never_reaches_the_memory_map(data, tmp_path):
    """The SIGBUS case, in a process of its own: exit 2 and one line, not a signal (exit 135)."""
    db = damaged_copy(data, tmp_path, "truncated")
    proc = subprocess.run(
        [sys.executable, "-m", "tao_ocrnet.cli", "evaluate", "-e", str(spec(data, tmp_path, db))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    one_error(proc.stderr, str(db), "cut short")


def test_a_value_pointing_outside_the_file_is_skipped_and_counted(data, tmp_path):
    db = tmp_path / "db"
    env = lmdb.open(str(db), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, label in enumerate(LABELS[:6], start=1):
            big = i == 3  # a value of 3000 bytes lives on an overflow page of its own
            txn.put(b"image-%09d" % i, image_bytes(30, 16, seed=i) + (bytes(3000) if big else b""))
            txn.put(b"label-%09d" % i, label.encode())
        txn.put(b"num-samples", b"6")
    env.close()
    raw = bytearray((db / "data.mdb").read_bytes())
    node = raw.index(b"image-000000003") - 8  # the leaf node: size (lo, hi), flags, key size, key
    raw[node + 3] = 0x7F  # its value now claims ~2 GB, far past the end of the file
    (db / "data.mdb").write_bytes(bytes(raw))
    assert check_lmdb(db).bad_keys == {b"image-000000003"}
    found = SampleFilter(ALNUM36)
    dataset = LmdbDataset(db, sample_filter=found, on_corrupt="drop")
    images = [dataset[i][0] for i in range(len(dataset))]
    assert sum(img is None for img in images) == 1 and found.stats()["corrupt_image"] == 1


def test_a_damaged_lmdb_from_a_dataset_convert_job_fails_the_train_job(jobs_env, synth_root, capsys):  # noqa: F811
    """Job data discovery: a COMPLETE dataset_convert job whose LMDB was cut short afterwards."""
    store = JobStore()
    job_id = store.reserve("dataset_convert")
    task = jobs_env.results / job_id / "dataset_convert" / "lmdb"
    convert_to_lmdb(synth_root / "train", synth_root / "train" / "gt_new.txt", task, progress=False)
    os.truncate(task / "data.mdb", (task / "data.mdb").stat().st_size // 2)
    request = {"split": "train", "roots": {"train_datasets": [str(synth_root)]}}
    record = new_record(job_id=job_id, action="dataset_convert", command="", platform="local",
                        results_dir=str(jobs_env.results / job_id), job_dir=str(store.job_dir(job_id)), spec={},
                        outputs={"task_dir": str(task)}, request=request)  # fmt: skip
    store.create(record)
    store.mark(job_id, "RUNNING", "x", "agent", backend_ref={"kind": "fake", "pid": None})
    store.mark(job_id, "COMPLETE", "done", "backend-hook", exit_code=0)

    view = submit_wait(capsys, "train", "--train-dataset", f"job:{job_id}", "--eval-dataset", str(synth_root),
                       *cli_words(TINY_TRAIN), expect="ERROR")  # fmt: skip
    status = last_status(Path(view["results_dir"]) / "train")
    assert status["status"] == "FAILURE" and "cut short" in status["message"] and str(task) in status["message"]
    log = (jobs_env.jobs / view["id"] / "job.log").read_text()
    assert "Traceback" not in log and "data.mdb is cut short" in log


# --- archives ------------------------------------------------------------------------------------------------


def pax_bomb(path: Path, claimed: int) -> Path:
    """A .tar.gz whose first header is a PAX extended header of `claimed` bytes (zeros: ~1 MB compressed)."""
    import gzip

    info = tarfile.TarInfo("bomb")
    info.type, info.size = tarfile.XHDTYPE, claimed
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as gz:
        gz.write(info.tobuf(format=tarfile.USTAR_FORMAT))
        zeros = bytes(1 << 20)
        for _ in range(claimed >> 20):
            gz.write(zeros)
        gz.write(bytes(1024))
    return path


def test_pax_bomb_at_dry_run_is_refused_in_bounded_memory(jobs_env, tmp_path):  # noqa: F811
    root = tmp_path / "root"
    (root / "train").mkdir(parents=True)
    claimed = 256 << 20
    pax_bomb(root / "train.tar.gz", claimed)
    (root / "train" / "gt_new.txt").write_text("a.png\tab\n")
    write_charset(root / "character_list")
    measure = (
        "import resource, subprocess, sys\n"
        "proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(proc.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(proc.returncode)\n"
    )
    argv = ["ocrnet", "jobs", "submit", "dataset_convert", "--train-dataset", str(root), "--dry-run"]
    proc = subprocess.run([sys.executable, "-c", measure, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    one_error(proc.stderr, str(root / "train.tar.gz"), "extended header")
    peak = int(proc.stdout.strip()) * 1024  # ru_maxrss is in KiB on Linux
    assert peak < claimed // 2, f"peak memory {peak >> 20} MiB"  # tarfile alone would hold the whole header
    assert not (jobs_env.home / "cache" / "staging").exists()  # a dry run extracts nothing


def make_tar(path: Path, members: list[tarfile.TarInfo], payload: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for info in members:
            if info.isreg():
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if info.isreg() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def _zip(path: Path, patch: dict[str, int]) -> Path:
    """A one-member zip, its general-purpose flags or compression method rewritten in both headers."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("img/a.png", b"x" * 100)
    raw = bytearray(path.read_bytes())
    local, central = raw.index(b"PK\x03\x04"), raw.index(b"PK\x01\x02")
    for field, value in patch.items():
        at = {"flags": (6, 8), "method": (8, 10)}[field]
        raw[local + at[0] : local + at[0] + 2] = value.to_bytes(2, "little")
        raw[central + at[1] : central + at[1] + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(raw))
    return path


def test_hostile_archives_are_one_clear_error_and_leave_nothing(tmp_path):
    good = make_tar(tmp_path / "good.tar.gz", [_member(f"f{i}.png") for i in range(40)], bytes(range(256)) * 64)
    flipped = bytearray(good.read_bytes())
    for i in range(200, len(flipped) - 20, 97):
        flipped[i] ^= 0x55
    (tmp_path / "flipped.tar.gz").write_bytes(bytes(flipped))
    cases = {
        make_tar(tmp_path / "dup.tar.gz", [_member("a.png"), _member("a.png")]): "appears twice",
        make_tar(tmp_path / "empty.tar.gz", [_member("l", tarfile.SYMTYPE, "")]): "empty target",
        make_tar(tmp_path / "long.tar.gz", [_member("d/" + "n" * 300 + ".png")]): "too long",
        make_tar(tmp_path / "in-file.tar.gz", [_member("a"), _member("a/b.png")]): "which is a file",
        make_tar(tmp_path / "fifo.tar.gz", [_member("p.png", tarfile.FIFOTYPE)]): "device or FIFO",
        _zip(tmp_path / "enc.zip", {"flags": 1}): "encrypted",
        _zip(tmp_path / "aes.zip", {"method": 99}): "compression method 99",
        tmp_path / "flipped.tar.gz": "re-create it",
    }
    for archive, message in cases.items():
        dest = tmp_path / "stage" / archive.name
        with pytest.raises(ArchiveError, match=message):
            inspect_archive(archive, dest)  # the dry run's check
        with pytest.raises(ArchiveError, match=message):
            extract_once(archive, dest)
        assert [p.name for p in (tmp_path / "stage").iterdir()] == [f".{archive.name}.lock"]  # no folder
        (tmp_path / "stage" / f".{archive.name}.lock").unlink()


def test_zip_roots_are_looked_up_like_tar_gz(jobs_env, tmp_path, capsys):  # noqa: F811
    raw = make_raw_set(tmp_path / "made", LABELS[:4], sub="img")
    root = tmp_path / "root"
    (root / "train").mkdir(parents=True)
    shutil.copy(raw.gt_file, root / "train" / "gt_new.txt")
    with zipfile.ZipFile(root / "train.zip", "w") as zf:
        for image in sorted(raw.img_dir.iterdir()):
            zf.write(image, f"train/{image.name}")
    code, out, err = run(capsys, "submit", "dataset_convert", "--train-dataset", str(root), "--dry-run")
    assert code == 0, err
    resolved = yaml.safe_load(out)["dataset_convert"]
    assert Path(resolved["input_img_dir"]).name == "train" and not Path(resolved["input_img_dir"]).exists()
    assert resolved["gt_file"] == str(root / "train" / "gt_new.txt")
    view = submit_wait(capsys, "dataset_convert", "--train-dataset", str(root))
    assert view["kpis"]["written"] == 4


# --- gt files and images -------------------------------------------------------------------------------------


@pytest.fixture
def hostile_set(tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    """An image folder and a gt file whose entries reach outside it, at a FIFO, at /dev/zero and at a PNG bomb.
    Returns (folder, gt file, {what: gt line number})."""
    raw = make_raw_set(tmp_path / "set", LABELS[:3])
    outside = tmp_path / "secret.png"
    outside.write_bytes(image_bytes(30, 16))  # decodable: reading it would add a sample
    os.mkfifo(raw.img_dir / "fifo.png")
    (raw.img_dir / "zero.png").symlink_to("/dev/zero")
    Image.new("1", (12000, 12000)).save(raw.img_dir / "huge.png")  # a few KB on disk, 144 MB decoded
    extra = {
        "climbs out": "../secret.png",
        "absolute": str(outside),
        "fifo": "fifo.png",
        "device": "zero.png",
        "pixels": "huge.png",
    }
    with raw.gt_file.open("a") as gt:
        for rel in extra.values():
            gt.write(f"{rel}\tabc\n")
    return raw.img_dir, raw.gt_file, {what: 4 + i for i, what in enumerate(extra)}


def test_hostile_gt_entries_are_skipped_and_counted_by_convert(hostile_set, tmp_path, capsys):
    img_dir, gt, lines = hostile_set
    tree = {"dataset_convert": {"input_img_dir": str(img_dir), "gt_file": str(gt),
                                "results_dir": str(tmp_path / "lmdb")}}  # fmt: skip
    code, err = run_spec(capsys, "dataset_convert", tree, tmp_path, 60)
    assert code == 0, err
    assert last_status(tmp_path / "lmdb")["kpi"]["written"] == 3  # nothing from outside the folder
    log = {
        int(line.split("\t")[0]): line for line in (tmp_path / "lmdb" / "error_image_log.txt").read_text().splitlines()
    }
    assert sorted(log) == sorted(lines.values())
    assert "climbs out of the image folder" in log[lines["climbs out"]]
    assert "is absolute" in log[lines["absolute"]]
    assert "not a regular file" in log[lines["fifo"]] and "not a regular file" in log[lines["device"]]
    assert "image too large (12000x12000 pixels" in log[lines["pixels"]]


def test_hostile_gt_entries_are_skipped_and_counted_by_raw_datasets(hostile_set):
    img_dir, gt, lines = hostile_set
    found = SampleFilter(ALNUM36)
    with deadline(60):
        dataset = RawGtDataset(img_dir, gt, sample_filter=found, on_corrupt="drop")
        images = [dataset[i][0] for i in range(len(dataset))]
    assert len(dataset) == 4 and found.stats()["missing_image"] == 4  # outside x2, FIFO, device
    assert sum(img is None for img in images) == 1 and found.stats()["corrupt_image"] == 1  # the 144 MP PNG
    assert f"line {lines['climbs out']}" in (found.first_rejection or "")


def test_inference_skips_a_fifo_named_png(data, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "word.png").write_bytes(image_bytes(40, 16))
    os.mkfifo(folder / "pipe.png")
    tree = {"model": MODEL, "dataset": {"character_list_file": str(data / "character_list")},
            "inference": {"checkpoint": str(data / "model.pth"), "inference_dataset_dir": str(folder),
                          "results_dir": str(tmp_path / "out")}}  # fmt: skip
    code, err = run_spec(capsys, "inference", tree, tmp_path)
    assert code == 0, err
    assert last_status(tmp_path / "out")["status"] == "SUCCESS"


def test_the_pixel_limit_is_configurable(monkeypatch):
    small = image_bytes(40, 16)
    assert decode_image(small).size == (40, 16)
    monkeypatch.setenv(MAX_PIXELS_ENV, "600")
    with pytest.raises(ImageRefusedError, match=r"40x16 pixels; the limit is 600"):
        decode_image(small)


# --- checkpoints ---------------------------------------------------------------------------------------------


def test_a_bad_resume_checkpoint_is_a_clear_model_file_error(data, tmp_path, capsys):
    arch = ModelArch.from_spec(ModelConfig(**MODEL), tuple(ALNUM36), 25)
    other = ModelArch.from_spec(ModelConfig(**{**MODEL, "hidden_size": 32}), tuple(ALNUM36), 25)
    wide = build_model(other).state_dict()
    lightning_like = {"pytorch-lightning_version": "2.4.0", **checkpoint_metadata(other),
                      "state_dict": {f"model.{k}": v for k, v in wide.items()}}  # fmt: skip
    torch.save(lightning_like, tmp_path / "other_arch.pth")
    whole = (data / "model.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "foreign.pth").write_bytes(json.dumps({"not": "a model"}).encode())
    cases = {
        data / "model.pth": "is not a training checkpoint",  # a model file: Lightning's KeyError before
        tmp_path / "truncated.pth": "not a model file",
        tmp_path / "foreign.pth": "not a model file",
        tmp_path / "other_arch.pth": "hidden_size: 32 in the file, 16 in the spec",
    }
    assert arch.hidden_size == 16
    for checkpoint, message in cases.items():
        path = spec(data, tmp_path, data / "good", resume_training_checkpoint_path=str(checkpoint))
        code, err = ocrnet(capsys, "train", "-e", str(path))
        assert code == 2, err
        one_error(err, "train.resume_training_checkpoint_path", str(checkpoint), message)
        assert last_status(tmp_path / "results" / "train")["status"] == "FAILURE"


def test_a_partly_matching_pretrained_file_warns_and_names_what_did_not_load(data, tmp_path, capsys, caplog):
    other = ModelArch.from_spec(ModelConfig(**{**MODEL, "hidden_size": 32}), tuple(ALNUM36), 25)
    save_model_file(tmp_path / "other.pth", build_model(other), other)
    path = spec(data, tmp_path, data / "good", pretrained_model_path=str(tmp_path / "other.pth"))
    with caplog.at_level(logging.INFO):
        code, err = ocrnet(capsys, "train", "-e", str(path))
    assert code == 0, err
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "pretrained" in r.getMessage()]
    assert len(warned) == 1 and "only" in warned[0] and "SequenceModeling" in warned[0]
    unrelated = tmp_path / "unrelated.pth"
    torch.save({"state_dict": {"something.else": torch.zeros(3)}}, unrelated)
    path = spec(data, tmp_path, data / "good", pretrained_model_path=str(unrelated))
    code, err = ocrnet(capsys, "train", "-e", str(path))
    assert code == 2
    one_error(err, "train.pretrained_model_path", "shares no tensor")


# --- a full disk ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs): needs root and mount, else the test is skipped."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_during_convert_is_one_error_and_leaves_nothing(tiny_disk, tmp_path, capsys):
    img_dir = tmp_path / "noise"
    img_dir.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(250):  # ~1.6 MB of incompressible PNGs for a 1 MiB disk
        Image.fromarray(rng.integers(0, 255, (32, 200), dtype=np.uint8)).save(img_dir / f"{i}.png")
        lines.append(f"{i}.png\tab\n")
    (img_dir / "gt.txt").write_text("".join(lines))
    out = tiny_disk / "lmdb"
    tree = {"dataset_convert": {"input_img_dir": str(img_dir), "gt_file": str(img_dir / "gt.txt"),
                                "results_dir": str(out)}}  # fmt: skip
    path = tmp_path / "convert.yaml"
    path.write_text(yaml.safe_dump(tree))
    code, err = ocrnet(capsys, "dataset_convert", "-e", str(path))
    assert code == 2
    one_error(err, f"could not write the LMDB in {out}", "disk full")
    assert not list(tiny_disk.glob(".*partial*")) and not (out / "data.mdb").exists()
