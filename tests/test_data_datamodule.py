# SPDX-License-Identifier: Apache-2.0
from types import SimpleNamespace

import pytest
import torch

from tao_ocrnet.data.charset import load_charset
from tao_ocrnet.data.datamodule import OCRDataModule
from tao_ocrnet.data.loaders import build_eval_loader, build_folder_loader
from tao_ocrnet.errors import DataError


def _spec(train_dirs, train_gt, val_dir, val_gt, charset, *, channel=1, workers=0, aug_prob=0.0, keep=False):
    """A stand-in with the spec's attribute names (the real ExperimentSpec is a pydantic model)."""
    aug = SimpleNamespace(
        keep_aspect_ratio=keep,
        aug_prob=aug_prob,
        reverse_color_prob=0.5,
        rotate_prob=0.5,
        max_rotation_degree=5,
        blur_prob=0.5,
        gaussian_radius_list=[1, 2, 3, 4],
    )
    dataset = SimpleNamespace(
        train_dataset_dir=train_dirs,
        train_gt_file=train_gt,
        val_dataset_dir=val_dir,
        val_gt_file=val_gt,
        character_list_file=str(charset),
        max_label_length=25,
        batch_size=8,
        workers=workers,
        augmentation=aug,
    )
    model = SimpleNamespace(input_channel=channel, input_height=32, input_width=100)
    return SimpleNamespace(dataset=dataset, model=model)


def test_raw_gt_batches(synth_dataset):
    out = synth_dataset.out_dir
    spec = _spec(
        [str(out / "train")],
        str(out / "train" / "gt_new.txt"),
        str(out / "test"),
        str(out / "test" / "gt_new.txt"),
        out / "character_list",
        channel=3,
        aug_prob=1.0,
        keep=True,
    )
    dm = OCRDataModule(spec, load_charset(out / "character_list"))
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 32, 100) and images.dtype == torch.float32 and len(labels) == 8
    assert images.min() >= -1 and images.max() <= 1
    val = list(dm.val_dataloader())
    assert sum(len(b[1]) for b in val) == 16 and val[-1][0].shape[1:] == (3, 32, 100)
    stats = dm.filter_stats()
    assert stats["train"]["total"] == 0 and stats["val"]["total"] == 0


def test_lmdb_with_workers_and_filtering(synth_dataset, synth_lmdb):
    out = synth_dataset.out_dir
    spec = _spec([str(synth_lmdb)], "", str(synth_lmdb), "", out / "character_list", workers=2)
    # drop "e" from the charset: every label with an "e" is skipped and counted
    charset = [c for c in load_charset(out / "character_list") if c != "e"]
    dm = OCRDataModule(spec, charset)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.num_workers == 2 and loader.persistent_workers
    seen = [label for images, labels in loader for label in labels]
    assert seen and all("e" not in label for label in seen)
    skipped = dm.filter_stats()["train"]["char_not_in_charset"]
    assert skipped > 0 and len(seen) + skipped == 48
    images, _ = next(iter(loader))
    assert images.shape[1:] == (1, 32, 100)


def test_missing_dirs_name_spec_keys(synth_dataset, tmp_path):
    out = synth_dataset.out_dir
    charset = load_charset(out / "character_list")
    spec = _spec([str(tmp_path / "nope")], "", "", "", out / "character_list")
    with pytest.raises(DataError, match=r"dataset\.train_dataset_dir"):
        OCRDataModule(spec, charset).setup("fit")
    spec = _spec(
        [str(out / "train")], str(out / "train" / "gt_new.txt"), str(tmp_path / "v"), "", out / "character_list"
    )
    with pytest.raises(DataError, match=r"dataset\.val_dataset_dir"):
        OCRDataModule(spec, charset).setup("fit")


def test_eval_and_folder_loaders(synth_dataset, tmp_path):
    out = synth_dataset.out_dir
    spec = _spec([], "", "", "", out / "character_list", channel=3)
    charset = load_charset(out / "character_list")
    loader, flt = build_eval_loader(
        spec, charset, directory=str(out / "test"), gt_file=str(out / "test" / "gt_new.txt"), batch_size=5
    )
    batches = list(loader)
    assert [len(labels) for _, labels in batches] == [5, 5, 5, 1]
    assert batches[0][0].shape == (5, 3, 32, 100) and flt.stats()["total"] == 0
    folder, _ = build_folder_loader(spec, str(out / "test"), batch_size=7)
    images, paths, skipped = next(iter(folder))
    assert images.shape == (7, 3, 32, 100) and len(paths) == 7 and skipped == []
    assert paths == sorted(paths)
