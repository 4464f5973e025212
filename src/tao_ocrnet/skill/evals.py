# SPDX-License-Identifier: Apache-2.0
"""`evals/evals.json`: routing evals, positive and negative (the reference had one, and 0% discoverability).

Each entry: id, question, expected_skill (`tao-train-ocrnet`, or for a negative case the skill that should
be chosen instead), ground_truth (one sentence) and expected_behavior (a non-empty list, as the bank CI
requires).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tao_ocrnet.jobs.skill_info import SKILL_NAME

OCDNET = "tao-train-ocdnet"


@dataclass(frozen=True)
class Eval:
    id: str
    question: str
    expected_skill: str
    ground_truth: str
    expected_behavior: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "expected_skill": self.expected_skill,
            "ground_truth": self.ground_truth,
            "expected_behavior": list(self.expected_behavior),
        }


EVALS: tuple[Eval, ...] = (
    Eval(
        "ocrnet-train-basic",
        "Train OCRNet on my cropped word images in s3://bucket/words (train.tar.gz, test.tar.gz, character_list).",
        SKILL_NAME,
        "OCRNet is AutoML-enabled and the default policy is on, so train goes through tao-run-automl with this "
        "skill's skill_dir after dataset_convert runs once per split.",
        (
            f"Reads {SKILL_NAME} skill_info and resolves automl_policy to on",
            "Runs dataset_convert for the train and eval splits before training",
            "Routes train to the tao-run-automl skill with the absolute skill_dir",
        ),
    ),
    Eval(
        "ocrnet-scene-text-recognition",
        "I need a scene text recognition model that reads the word in each cropped text image. What should I use?",
        SKILL_NAME,
        "OCRNet recognizes the text inside cropped word images; it is the TAO scene text recognition model.",
        (f"Selects {SKILL_NAME}", "Explains that inputs are cropped word images, not full scenes"),
    ),
    Eval(
        "ocrnet-vs-ocdnet-detection",
        "Find where the text is in these street photos and draw boxes around every word.",
        OCDNET,
        "Locating text regions in full images is text detection (OCDNet); OCRNet only reads already-cropped text.",
        (f"Does not select {SKILL_NAME}", "Routes to the OCDNet text detection skill"),
    ),
    Eval(
        "ocrnet-ocd-then-ocr",
        "Detect the text in invoices and then read each detected word.",
        OCDNET,
        "Detection comes first with OCDNet; OCRNet reads the resulting crops afterwards.",
        ("Starts with OCDNet for detection", f"Names {SKILL_NAME} for recognizing the cropped words"),
    ),
    Eval(
        "ocrnet-attention-decoder",
        "Fine-tune the OCR model with an attention decoder instead of CTC.",
        SKILL_NAME,
        "OCRNet's decoder is model.prediction with the choices CTC and Attn.",
        ("Sets model.prediction: Attn", "Keeps the character list and input size consistent with the data"),
    ),
    Eval(
        "ocrnet-ctc-text-decoder",
        "Which TAO model has a CTC text decoder for OCR of cropped text lines?",
        SKILL_NAME,
        "OCRNet uses a CTC decoder by default (model.prediction: CTC).",
        (f"Selects {SKILL_NAME}", "Mentions model.prediction CTC as the default"),
    ),
    Eval(
        "ocrnet-turn-off-automl",
        "Train OCRNet for 20 epochs but turn off AutoML, just a plain training run.",
        SKILL_NAME,
        '"turn off AutoML" and "plain training" mean automl_policy off for this run: train directly.',
        (
            "Resolves automl_policy to off for this run only",
            "Runs ocrnet train directly with train.num_epochs=20",
            "Does not change automl_enabled in the metadata",
        ),
    ),
    Eval(
        "ocrnet-no-hpo",
        "No HPO please, I just want one OCRNet training job with lr 0.1.",
        SKILL_NAME,
        '"No HPO" means automl_policy off for this run; train directly with train.optim.lr=0.1.',
        ("Trains directly without tao-run-automl", "Sets train.optim.lr to 0.1"),
    ),
    Eval(
        "ocrnet-tensorrt-engine",
        "Deploy my exported OCRNet ONNX model with TensorRT in FP16.",
        SKILL_NAME,
        "TensorRT deployment is gen_trt_engine on the deploy image (references/tao-deploy-ocrnet.md).",
        (
            "Uses gen_trt_engine with gen_trt_engine.onnx_file from the export job",
            "Sets gen_trt_engine.tensorrt.data_type to FP16",
            "Reads references/tao-deploy-ocrnet.md",
        ),
    ),
    Eval(
        "ocrnet-trt-evaluate",
        "Measure the accuracy of my OCRNet TensorRT engine on the test set.",
        SKILL_NAME,
        "TensorRT evaluate runs on the deploy image with evaluate.trt_engine and raw test images plus a gt file.",
        ("Uses the deploy evaluate action", "Passes raw test images and test/gt_new.txt, not an LMDB"),
    ),
    Eval(
        "ocrnet-quantize",
        "Quantize my trained OCRNet checkpoint to int8.",
        SKILL_NAME,
        "quantize runs with quantize.model_path set to the train job's best_accuracy.pth.",
        ("Runs the quantize action", "Takes quantize.model_path from the parent train job (best_accuracy.pth)"),
    ),
    Eval(
        "ocrnet-prune-retrain",
        "Prune my OCRNet model to make it smaller and then retrain it to recover accuracy.",
        SKILL_NAME,
        "prune writes a pruned .pth; retrain is ocrnet train with model.pruned_graph_path set to it.",
        (
            "Runs prune with prune.checkpoint = best_accuracy.pth",
            "Runs retrain as ocrnet train -e with model.pruned_graph_path from the prune job",
        ),
    ),
    Eval(
        "ocrnet-evaluate-epoch",
        "Evaluate the epoch 5 checkpoint of my OCRNet training run.",
        SKILL_NAME,
        "An epoch request uses that exact model_epoch_005_step_*.pth, never the newest file.",
        ("Selects the exact epoch 5 checkpoint", "Reports test_acc (percent)"),
    ),
    Eval(
        "ocrnet-not-image-classification",
        "Classify product photos into 10 categories.",
        "tao-train-image-classification",
        "Image classification is not text recognition; OCRNet does not apply.",
        (f"Does not select {SKILL_NAME}",),
    ),
)


def evals_json() -> list[dict[str, Any]]:
    return [e.to_dict() for e in EVALS]
