#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Train the shipped CPU-size OCRNet on synthetic data only. Re-running the same command resumes from
# the latest checkpoint, so it can run for hours in the background and continue later:
#   nohup nice -n 19 bash recipes/pretrain_cpu.sh ~/ocrnet-pretrain > pretrain.log 2>&1 &
set -euo pipefail
OUT=$(realpath -m "${1:?usage: [NUM_TRAIN=N] [NUM_TEST=M] pretrain_cpu.sh OUT [dotted.key=value ...]}")
NUM_TRAIN=${NUM_TRAIN:-100000}
NUM_TEST=${NUM_TEST:-2000}
shift  # the rest are spec overrides for train
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
# Test fonts and words are disjoint from training ones (--fonts-split), so the test set is honest.
if [ ! -f "$OUT/data/character_list" ]; then
  python -m tao_ocrnet synth "$OUT/data" --num "$NUM_TRAIN" --num-test "$NUM_TEST" --seed 20261124 --fonts-split
fi
for split in train test; do
  if [ ! -f "$OUT/lmdb_$split/data.mdb" ]; then
    python -m tao_ocrnet dataset_convert -e "$HERE/pretrain_cpu.yaml" \
      "dataset_convert.input_img_dir=$OUT/data/$split" "dataset_convert.gt_file=$OUT/data/$split/gt_new.txt" \
      "dataset_convert.results_dir=$OUT/lmdb_$split"
  fi
done
python -m tao_ocrnet train -e "$HERE/pretrain_cpu.yaml" "results_dir=$OUT/results" \
  "dataset.train_dataset_dir=[$OUT/lmdb_train]" "dataset.val_dataset_dir=$OUT/lmdb_test" \
  "dataset.character_list_file=$OUT/data/character_list" "$@"
