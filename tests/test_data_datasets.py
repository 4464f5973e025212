# SPDX-License-Identifier: Apache-2.0
import pickle

import lmdb
import pytest
import torch
from torch.utils.data import DataLoader

from tao_ocrnet.data.collate import collate_labeled, collate_paths
from tao_ocrnet.data.datasets import (
    ImageFolderDataset,
    LmdbDataset,
    RawGtDataset,
    build_labeled_dataset,
)
from tao_ocrnet.data.filtering import SampleFilter
from tao_ocrnet.data.transforms import ImageTransform
from tao_ocrnet.errors import DataError

from data_fixtures import ALNUM36, image_bytes, make_raw_set

T = ImageTransform(1, 32, 100)


def _lmdb(root, labels, corrupt=()):
    """An LMDB written directly (so it can hold corrupt images, which convert would refuse)."""
    root.mkdir(parents=True)
    env = lmdb.open(str(root), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, label in enumerate(labels, start=1):
            txn.put(b"image-%09d" % i, b"broken" if i in corrupt else image_bytes(30, 16, seed=i))
            txn.put(b"label-%09d" % i, label.encode())
        txn.put(b"num-samples", str(len(labels)).encode())
    env.close()
    return root


def _filter(strict=False):
    return SampleFilter(ALNUM36, max_label_length=5, strict=strict)


def test_lmdb_label_filtering_counts(tmp_path):
    root = _lmdb(tmp_path / "db", ["ok", "toolong", "UPPER", "a-b", "fine", ""])
    f = _filter()
    ds = LmdbDataset(root, T, sample_filter=f)
    assert len(ds) == 2
    assert [ds[i][1] for i in range(2)] == ["ok", "fine"]
    stats = f.stats()
    assert stats["label_too_long"] == 1
    assert stats["char_not_in_charset"] == 2
    assert stats["empty_label"] == 1
    assert stats["total"] == 4
    img, _ = ds[0]
    assert img.shape == (1, 32, 100)


def test_lmdb_corrupt_image_skipped_and_counted_once(tmp_path):
    root = _lmdb(tmp_path / "db", ["a", "b", "c", "d"], corrupt={2})
    f = _filter()
    ds = LmdbDataset(root, T, sample_filter=f)
    labels = [ds[i][1] for i in range(len(ds))]
    assert "b" not in labels
    assert labels == ["a", "c", "c", "d"]  # index 1 replaced by the next valid sample
    _ = [ds[i] for i in range(len(ds))]  # a second epoch does not count it again
    assert f.stats()["corrupt_image"] == 1
    drop = LmdbDataset(root, T, sample_filter=_filter(), on_corrupt="drop")
    assert drop[1] == (None, "b")
    images, batch_labels = collate_labeled([drop[i] for i in range(4)], image_shape=(1, 32, 100))
    assert images.shape == (3, 1, 32, 100) and batch_labels == ["a", "c", "d"]


def test_corrupt_counts_reach_main_process_from_workers(tmp_path):
    root = _lmdb(tmp_path / "db", ["a", "b", "c", "d", "e", "f"], corrupt={2, 5})
    f = _filter()
    ds = LmdbDataset(root, T, sample_filter=f)
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_labeled)
    seen = [label for _, labels in loader for label in labels]
    assert "b" not in seen and "e" not in seen and len(seen) == 6
    assert f.stats()["corrupt_image"] == 2


def test_strict_mode_raises_naming_sample(tmp_path):
    root = _lmdb(tmp_path / "db", ["ok", "toolong"])
    with pytest.raises(DataError, match=r"sample 2 .*toolong.*max_label_length"):
        LmdbDataset(root, T, sample_filter=_filter(strict=True), key="dataset.train_dataset_dir")
    root2 = _lmdb(tmp_path / "db2", ["ok", "ab"], corrupt={2})
    ds = LmdbDataset(root2, T, sample_filter=_filter(strict=True))
    with pytest.raises(DataError, match=r"image-000000002"):
        ds[1]


def test_lmdb_root_forms_and_errors(tmp_path):
    root = _lmdb(tmp_path / "db", ["ab"])
    assert len(LmdbDataset(root / "data.mdb", T)) == 1
    with pytest.raises(DataError, match=r"dataset.val_dataset_dir"):
        LmdbDataset(tmp_path, T)


def test_lmdb_dataset_pickles_after_use(tmp_path):
    ds = LmdbDataset(_lmdb(tmp_path / "db", ["ab", "cd"]), T)
    _ = ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[1][1] == "cd"


def test_raw_gt_dataset_filters_and_missing(tmp_path):
    raw = make_raw_set(tmp_path, ["ok", "waytoolong", "Bad", "fine"])
    (raw.img_dir / "w3.png").unlink()
    with raw.gt_file.open("a") as f:
        f.write("broken_line\n")
    flt = _filter()
    ds = RawGtDataset(raw.img_dir, raw.gt_file, T, sample_filter=flt)
    assert len(ds) == 1 and ds[0][1] == "ok"
    stats = flt.stats()
    assert (stats["label_too_long"], stats["char_not_in_charset"], stats["missing_image"], stats["bad_gt_line"]) == (
        1,
        1,
        1,
        1,
    )


def test_train_dirs_are_all_concatenated(tmp_path):
    a = _lmdb(tmp_path / "a", ["a1", "a2"])
    b = _lmdb(tmp_path / "b", ["b1", "b2", "b3"])
    nested = _lmdb(tmp_path / "c" / "sub" / "lmdb", ["c1"])
    f = _filter()
    ds = build_labeled_dataset([str(a), str(b), str(tmp_path / "c")], "", transform=T, input_channel=1, sample_filter=f)
    assert len(ds) == 6
    assert sorted(ds[i][1] for i in range(6)) == ["a1", "a2", "b1", "b2", "b3", "c1"]
    assert nested.exists()


def test_train_gt_requires_exactly_one_dir(raw_set, tmp_path):
    ds = build_labeled_dataset(
        [str(raw_set.img_dir)], str(raw_set.gt_file), transform=T, input_channel=1, sample_filter=_filter()
    )
    assert len(ds) == 6
    with pytest.raises(DataError, match=r"dataset.train_gt_file is set.*dataset.train_dataset_dir.*exactly one"):
        build_labeled_dataset(
            [str(raw_set.img_dir), str(raw_set.img_dir)],
            str(raw_set.gt_file),
            transform=T,
            input_channel=1,
            sample_filter=_filter(),
        )


def test_builder_errors_name_keys(tmp_path):
    kw = {"transform": T, "input_channel": 1, "sample_filter": _filter()}
    with pytest.raises(DataError, match=r"dataset.train_dataset_dir is not set"):
        build_labeled_dataset([], "", **kw)
    with pytest.raises(DataError, match=r"evaluate.test_dataset_dir: .* does not exist"):
        build_labeled_dataset(str(tmp_path / "missing"), "", key="evaluate.test_dataset_dir", **kw)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match=r"holds no LMDB.*dataset.val_gt_file"):
        build_labeled_dataset(
            str(tmp_path / "plain"), "", key="dataset.val_dataset_dir", gt_key="dataset.val_gt_file", **kw
        )
    db = _lmdb(tmp_path / "db", ["TOOLONGLABEL"])
    with pytest.raises(DataError, match=r"no usable samples.*label_too_long"):
        build_labeled_dataset(str(db), None, key="dataset.val_dataset_dir", **kw)


def test_image_folder_dataset_sorted_and_corrupt(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.png").write_bytes(image_bytes())
    (tmp_path / "sub" / "a.jpg").write_bytes(image_bytes(fmt="JPEG"))
    (tmp_path / "a.png").write_bytes(b"corrupt")
    f = SampleFilter()
    ds = ImageFolderDataset(tmp_path, ImageTransform(3, 32, 100), input_channel=3, sample_filter=f)
    assert [p.rsplit("/", 1)[-1] for p in ds.paths] == ["a.png", "b.png", "a.jpg"]
    images, paths, skipped = collate_paths([ds[i] for i in range(3)], image_shape=(3, 32, 100))
    assert images.shape == (2, 3, 32, 100)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["b.png", "a.jpg"]
    assert skipped == [str(tmp_path / "a.png")]
    assert f.stats()["corrupt_image"] == 1
    empty, _, _ = collate_paths([ds[0]], image_shape=(3, 32, 100))
    assert empty.shape == (0, 3, 32, 100) and empty.dtype == torch.float32
