# SPDX-License-Identifier: Apache-2.0
"""Data layer: character list, gt files, images, LMDB conversion, datasets, DataModule, synthetic data.

Nothing is imported here on purpose: `charset` and `gt` stay importable without torch (light layers
and the model's codec use them); import the submodule you need:

- `charset`: `load_charset`, `charset_hash`          - `gt`: `parse_gt_file`, `iter_gt_file`
- `images`: `decode_image`, `preprocess`, `list_images` - `augment` / `transforms`: train chain
- `convert`: `convert_to_lmdb`                       - `lmdb_io`: key layout, shared read handles
- `filtering`: `SampleFilter` (skip-and-count)        - `datasets`: `LmdbDataset`, `RawGtDataset`,
  `ImageFolderDataset`, `build_labeled_dataset`
- `collate`: `collate_labeled`, `collate_paths`     - `datamodule`: `OCRDataModule`, `make_loader`
- `synth` (+ `fonts`, `words`): `generate_dataset`, `main_synth`
"""
