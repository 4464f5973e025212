# SPDX-License-Identifier: Apache-2.0
import io

import lmdb
import numpy as np
import pytest
from PIL import Image

from tao_ocrnet.data import convert as convert_mod
from tao_ocrnet.data.convert import ERROR_LOG_NAME, convert_to_lmdb
from tao_ocrnet.errors import DataError

from data_fixtures import image_bytes, make_raw_set


def _read_all(path):
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        data = dict(txn.cursor())
    env.close()
    return data


def test_keys_one_based_original_bytes(raw_set, tmp_path):
    out = tmp_path / "out" / "lmdb"
    summary = convert_to_lmdb(raw_set.img_dir, raw_set.gt_file, out, progress=False)
    assert summary.written == 6 and summary.num_skipped == 0 and summary.error_log is None
    data = _read_all(out)
    assert data[b"num-samples"] == b"6"
    assert b"image-000000000" not in data
    for i, label in enumerate(raw_set.labels, start=1):
        assert data[b"label-%09d" % i] == label.encode()
        assert data[b"image-%09d" % i] == (raw_set.img_dir / f"w{i - 1}.png").read_bytes()
    assert not (out / ERROR_LOG_NAME).exists()
    assert [p.name for p in out.parent.iterdir()] == ["lmdb"]  # no temp folder left behind


def test_missing_and_corrupt_images_logged(raw_set, tmp_path):
    (raw_set.img_dir / "w1.png").unlink()
    (raw_set.img_dir / "w3.png").write_bytes(b"garbage")
    with raw_set.gt_file.open("a", encoding="utf-8") as f:
        f.write("\nnolabel.png\n")
    out = tmp_path / "lmdb"
    summary = convert_to_lmdb(raw_set.img_dir, raw_set.gt_file, out, progress=False)
    assert summary.written == 4 and summary.num_skipped == 3
    assert [s.line_no for s in summary.skipped] == [2, 4, 8]
    assert summary.skipped_by_reason == {"missing image": 1, "corrupt image": 1, "bad gt line": 1}
    log_lines = (out / ERROR_LOG_NAME).read_text().splitlines()
    assert log_lines[0].startswith("2\t") and "w1.png" in log_lines[0] and "missing" in log_lines[0]
    assert log_lines[1].startswith("4\t") and "w3.png" in log_lines[1] and "corrupt" in log_lines[1]
    assert log_lines[2].startswith("8\t") and "no label" in log_lines[2]
    data = _read_all(out)
    # contiguous numbering over the written samples only
    assert data[b"num-samples"] == b"4"
    assert [data[b"label-%09d" % i].decode() for i in range(1, 5)] == ["hello", "a1", "ocr", "net"]


def test_refuses_overwrite_then_overwrites(raw_set, tmp_path):
    out = tmp_path / "lmdb"
    convert_to_lmdb(raw_set.img_dir, raw_set.gt_file, out, progress=False)
    (out / "status.json").write_text("{}")  # a file an action wrote there: must survive
    with pytest.raises(DataError, match=rf"{out}.*overwrite"):
        convert_to_lmdb(raw_set.img_dir, raw_set.gt_file, out, progress=False)
    other = make_raw_set(tmp_path / "other", ["x", "y"])
    summary = convert_to_lmdb(other.img_dir, other.gt_file, out, overwrite=True, progress=False)
    assert summary.written == 2
    assert _read_all(out)[b"num-samples"] == b"2"
    assert (out / "status.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_failure_mid_way_leaves_no_lmdb(raw_set, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = convert_mod.decode_image

    def flaky(data, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk on fire")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(convert_mod, "decode_image", flaky)
    monkeypatch.setattr(convert_mod, "COMMIT_EVERY", 2)  # some data is committed before the crash
    out = tmp_path / "lmdb"
    with pytest.raises(RuntimeError, match=r"disk on fire"):
        convert_to_lmdb(raw_set.img_dir, raw_set.gt_file, out, progress=False)
    assert not out.exists()
    assert list(tmp_path.glob(".lmdb*")) == []


def test_inputs_validated(raw_set, tmp_path):
    with pytest.raises(DataError, match=r"dataset_convert.input_img_dir"):
        convert_to_lmdb(tmp_path / "nope", raw_set.gt_file, tmp_path / "o", progress=False)
    with pytest.raises(DataError, match=r"dataset_convert.gt_file"):
        convert_to_lmdb(raw_set.img_dir, tmp_path / "nope.txt", tmp_path / "o", progress=False)
    (raw_set.img_dir / "only.png").write_bytes(image_bytes())
    bad = tmp_path / "bad_gt.txt"
    bad.write_text("missing.png\tx\n")
    with pytest.raises(DataError, match=r"no valid sample"):
        convert_to_lmdb(raw_set.img_dir, bad, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_map_full_grows(tmp_path, monkeypatch):
    monkeypatch.setattr(convert_mod, "_MAP_SIZES", (64 * 1024,))
    img_dir = tmp_path / "noise"
    img_dir.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(12):  # ~12 KiB each: far beyond a 64 KiB map
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
        (img_dir / f"n{i}.png").write_bytes(buf.getvalue())
        lines.append(f"n{i}.png\tn{i}\n")
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(lines))
    out = tmp_path / "lmdb"
    assert convert_to_lmdb(img_dir, gt, out, progress=False).written == 12
    data = _read_all(out)
    assert data[b"image-000000012"] == (img_dir / "n11.png").read_bytes()
