# SPDX-License-Identifier: Apache-2.0
import argparse
import hashlib
import subprocess
import tarfile

import pytest

from tao_ocrnet.data.charset import load_charset
from tao_ocrnet.data.gt import parse_gt_file
from tao_ocrnet.data.images import load_image
from tao_ocrnet.data.synth.cli import add_synth_arguments, main_synth
from tao_ocrnet.data.synth.fonts import discover_fonts
from tao_ocrnet.data.synth.generate import ALNUM36, generate_dataset
from tao_ocrnet.errors import DataError


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_layout_labels_and_images(synth_dataset):
    out = synth_dataset.out_dir
    assert sorted(p.name for p in out.iterdir()) == ["character_list", "test", "test.tar.gz", "train", "train.tar.gz"]
    assert "".join(load_charset(out / "character_list")) == ALNUM36
    for split, n in (("train", 48), ("test", 16)):
        gt = parse_gt_file(out / split / "gt_new.txt")
        assert not gt.bad_lines and len(gt.entries) == n
        assert (out / split / "gt_new.txt").read_text().count("\t") == n
        for e in gt.entries:
            assert set(e.label) <= set(ALNUM36) and 0 < len(e.label) <= 25
            img = load_image(out / split / e.rel_path, 3)
            assert img.height == 32 and img.width >= 4


def test_tarball_members_are_split_contents_at_top_level(synth_dataset, tmp_path):
    out = synth_dataset.out_dir
    for split in ("train", "test"):
        with tarfile.open(out / f"{split}.tar.gz") as tar:
            names = tar.getnames()
        expected = sorted("./" + p.relative_to(out / split).as_posix() for p in (out / split).rglob("*"))
        assert sorted(names) == expected and "./gt_new.txt" in names
        # Both the plain and the host side's --strip-components=1 extraction give the folder back.
        for extra in ([], ["--strip-components=1"]):
            dest = tmp_path / f"{split}{len(extra)}"
            dest.mkdir()
            subprocess.run(["tar", "-xzf", str(out / f"{split}.tar.gz"), "-C", str(dest), *extra], check=True)
            assert _digest(dest) == _digest(out / split)


def test_deterministic_for_a_seed_and_workers(synth_dataset, tmp_path):
    again = generate_dataset(tmp_path / "again", 48, 16, seed=0, workers=2)
    for name in ("train", "test"):
        assert _digest(again.out_dir / name) == _digest(synth_dataset.out_dir / name)
        assert (again.out_dir / f"{name}.tar.gz").read_bytes() == (
            synth_dataset.out_dir / f"{name}.tar.gz"
        ).read_bytes()
    other = generate_dataset(tmp_path / "other", 48, 16, seed=1)
    assert _digest(other.out_dir / "train") != _digest(synth_dataset.out_dir / "train")


def test_fonts_split_is_disjoint(tmp_path):
    s = generate_dataset(tmp_path / "d", 60, 30, seed=3, fonts_split=True)
    assert s.test_fonts and s.train_fonts and not set(s.test_fonts) & set(s.train_fonts)
    train = {e.label for e in parse_gt_file(tmp_path / "d" / "train" / "gt_new.txt").entries}
    test = {e.label for e in parse_gt_file(tmp_path / "d" / "test" / "gt_new.txt").entries}
    assert not train & test


def test_extending_a_dataset_keeps_its_split_and_held_out_labels(tmp_path):
    """`ocrnet synth --first-index N+1 --avoid-labels test/gt` adds fresh crops of the same split."""
    s = generate_dataset(tmp_path / "d", 60, 30, seed=3, fonts_split=True)
    test_gt = tmp_path / "d" / "test" / "gt_new.txt"
    parser = add_synth_arguments(argparse.ArgumentParser())
    extend = ["--fonts-split", "--first-index", "61", "--avoid-labels", str(test_gt)]
    args = parser.parse_args([str(tmp_path / "more"), "--num", "80", "--num-test", "0", "--seed", "3", *extend])
    more = main_synth(args)
    assert more["train_fonts"] == s.train_fonts and more["test_fonts"] == s.test_fonts
    entries = parse_gt_file(tmp_path / "more" / "train" / "gt_new.txt").entries
    assert [e.rel_path[:12] for e in entries] == [f"word_{i:07d}" for i in range(61, 141)]
    assert not {e.label for e in entries} & {e.label for e in parse_gt_file(test_gt).entries}
    old = {p.name for p in (tmp_path / "d" / "train").glob("word_*")}
    assert not old & {p.name for p in (tmp_path / "more" / "train").glob("word_*")}
    with pytest.raises(DataError, match="first_index"):
        generate_dataset(tmp_path / "bad", 2, 1, first_index=0)


def test_refuses_overwrite_and_cli_entry(synth_dataset, tmp_path):
    with pytest.raises(DataError, match="refusing to overwrite"):
        generate_dataset(synth_dataset.out_dir, 2, 1)
    parser = add_synth_arguments(argparse.ArgumentParser())
    args = parser.parse_args([str(tmp_path / "cli"), "--num", "10", "--seed", "2", "--charset", "digits"])
    summary = main_synth(args)
    assert summary["num_train"] == 10 and summary["num_test"] == 2 and summary["charset"] == "0123456789"
    labels = [e.label for e in parse_gt_file(tmp_path / "cli" / "train" / "gt_new.txt").entries]
    assert all(label.isdigit() for label in labels)
    generate_dataset(tmp_path / "cli", 3, 1, overwrite=True)
    assert len(parse_gt_file(tmp_path / "cli" / "train" / "gt_new.txt").entries) == 3


def test_no_fonts_tells_what_to_install(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"apt-get install"):
        discover_fonts(ALNUM36, [tmp_path / "empty"])
    with pytest.raises(DataError, match=r"apt-get install"):
        generate_dataset(tmp_path / "o", 2, 1, fonts=tmp_path / "empty")
