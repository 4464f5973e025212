# SPDX-License-Identifier: Apache-2.0
"""`evals/evals.json`: the bank's Tier-3 agent evals, routing and plan checks that run nothing.

Each entry: id, question, expected_skill, ground_truth (one sentence) and expected_behavior (a non-empty list),
as the bank CI requires. `expected_skill` is always this skill's name (the signer checks it). A question quotes
a user request and asks for the routing decision and the plan only, never to run anything (the eval sandbox
rejects tools). Negative cases ask the same way; their ground truth and behaviour say this skill should NOT be
chosen and what the request needs instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tao_ocrnet.jobs.skill_info import SKILL_NAME

NO_EXECUTION = "Do NOT run any commands, scripts, web searches, or other tools — describe the plan only."
POSITIVE_ASK = (
    "Identify which TAO skill applies and, reading only that skill's documentation, outline the steps it prescribes."
)
NEGATIVE_ASK = f"Decide whether the {SKILL_NAME} skill applies and explain the decision from its documentation."
NOT_RUN = "Does not run commands, scripts, or web searches"
NOT_CHOSEN = f"{SKILL_NAME} should NOT be chosen"


@dataclass(frozen=True)
class Eval:
    id: str
    request: str  # the user's words, quoted in the question
    ground_truth: str
    expected_behavior: tuple[str, ...]
    negative: bool = False  # this skill should not be chosen

    def question(self) -> str:
        ask = NEGATIVE_ASK if self.negative else POSITIVE_ASK
        return f'A user request: "{self.request}" {ask} {NO_EXECUTION}'

    def to_dict(self) -> dict[str, Any]:
        first = f"Does not select {SKILL_NAME}" if self.negative else f"Identifies {SKILL_NAME} as the relevant skill"
        return {
            "id": self.id,
            "question": self.question(),
            "expected_skill": SKILL_NAME,
            "ground_truth": self.ground_truth,
            "expected_behavior": [first, *self.expected_behavior, NOT_RUN],
        }


EVALS: tuple[Eval, ...] = (
    Eval(
        "ocrnet-train-basic",
        "Train OCRNet on my cropped word images in s3://bucket/words (train.tar.gz, test.tar.gz, character_list).",
        "OCRNet is AutoML-enabled and the default policy is on, so train goes through tao-run-automl with this "
        "skill's skill_dir after dataset_convert runs once per split.",
        (
            "Reads skill_info and resolves automl_policy to on",
            "Plans dataset_convert for the train and eval splits before training",
            "Routes train to the tao-run-automl skill with the absolute skill_dir",
        ),
    ),
    Eval(
        "ocrnet-scene-text-recognition",
        "I need a scene text recognition model that reads the word in each cropped text image.",
        "OCRNet recognizes the text inside cropped word images; it is the TAO scene text recognition model.",
        ("Explains that inputs are cropped word images, not full scenes",),
    ),
    Eval(
        "ocrnet-vs-ocdnet-detection",
        "Find where the text is in these street photos and draw boxes around every word.",
        f"{NOT_CHOSEN}: locating text regions in full images is text detection (OCDNet); OCRNet only reads "
        "already-cropped text.",
        ("Says the request is text detection, which OCRNet does not do", "Points to a text detection model (OCDNet)"),
        negative=True,
    ),
    Eval(
        "ocrnet-ocd-then-ocr",
        "Detect the text in invoices and then read each detected word.",
        "Detection comes first with a text detection model (OCDNet); OCRNet then reads the resulting word crops.",
        ("Plans text detection (OCDNet) first", "Uses OCRNet only for recognizing the cropped words"),
    ),
    Eval(
        "ocrnet-attention-decoder",
        "Fine-tune the OCR model with an attention decoder instead of CTC.",
        "OCRNet's decoder is model.prediction with the choices CTC and Attn.",
        ("Sets model.prediction: Attn", "Keeps the character list and input size consistent with the data"),
    ),
    Eval(
        "ocrnet-ctc-text-decoder",
        "Which TAO model has a CTC text decoder for OCR of cropped text lines?",
        "OCRNet uses a CTC decoder by default (model.prediction: CTC).",
        ("Mentions model.prediction CTC as the default",),
    ),
    Eval(
        "ocrnet-turn-off-automl",
        "Train OCRNet for 20 epochs but turn off AutoML, just a plain training run.",
        '"turn off AutoML" and "plain training" mean automl_policy off for this run: train directly.',
        (
            "Resolves automl_policy to off for this run only",
            "Plans one direct train with train.num_epochs=20",
            "Does not change automl_enabled in the metadata",
        ),
    ),
    Eval(
        "ocrnet-no-hpo",
        "No HPO please, I just want one OCRNet training job with lr 0.1.",
        '"No HPO" means automl_policy off for this run; train directly with train.optim.lr=0.1.',
        ("Plans one direct train without tao-run-automl", "Sets train.optim.lr to 0.1"),
    ),
    Eval(
        "ocrnet-tensorrt-engine",
        "Deploy my exported OCRNet ONNX model with TensorRT in FP16.",
        "TensorRT deployment is gen_trt_engine on the deploy image (references/tao-deploy-ocrnet.md).",
        (
            "Plans gen_trt_engine with gen_trt_engine.onnx_file from the export job",
            "Sets gen_trt_engine.tensorrt.data_type to FP16",
            "Reads references/tao-deploy-ocrnet.md",
        ),
    ),
    Eval(
        "ocrnet-trt-evaluate",
        "Measure the accuracy of my OCRNet TensorRT engine on the test set.",
        "TensorRT evaluate runs on the deploy image with evaluate.trt_engine and raw test images plus a gt file.",
        ("Plans the deploy evaluate action", "Passes raw test images and test/gt_new.txt, not an LMDB"),
    ),
    Eval(
        "ocrnet-quantize",
        "Quantize my trained OCRNet checkpoint to int8.",
        "quantize runs with quantize.model_path set to the train job's best_accuracy.pth.",
        ("Plans the quantize action", "Takes quantize.model_path from the parent train job (best_accuracy.pth)"),
    ),
    Eval(
        "ocrnet-prune-retrain",
        "Prune my OCRNet model to make it smaller and then retrain it to recover accuracy.",
        "prune writes a pruned .pth; retrain is ocrnet train with model.pruned_graph_path set to it.",
        (
            "Plans prune with prune.checkpoint = best_accuracy.pth",
            "Plans retrain as ocrnet train -e with model.pruned_graph_path from the prune job",
        ),
    ),
    Eval(
        "ocrnet-evaluate-epoch",
        "Evaluate the epoch 5 checkpoint of my OCRNet training run.",
        "An epoch request uses that exact model_epoch_005_step_*.pth, never the newest file.",
        ("Selects the exact epoch 5 checkpoint", "Reports test_acc (percent)"),
    ),
    Eval(
        "ocrnet-not-image-classification",
        "Classify product photos into 10 categories.",
        f"{NOT_CHOSEN}: image classification is not text recognition.",
        ("Says OCRNet reads text and does not classify images",),
        negative=True,
    ),
    Eval(
        "ocrnet-not-document-layout",
        "Extract the tables and paragraphs from these scanned PDF pages.",
        f"{NOT_CHOSEN}: page layout and document parsing are not OCRNet's task, which reads one cropped word at "
        "a time.",
        ("Says OCRNet needs cropped word images, not whole pages",),
        negative=True,
    ),
)


def evals_json() -> list[dict[str, Any]]:
    return [e.to_dict() for e in EVALS]
