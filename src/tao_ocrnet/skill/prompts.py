# SPDX-License-Identifier: Apache-2.0
"""The MCP prompts (the main workflows), generated into `schemas/mcp/prompts.json` for the server to serve.

The wording is the Jinja2 template `skill/text/mcp-prompts.md.j2`; this module names the prompts, their
arguments and which argument values the server can complete (`complete`: job ids, study names, actions).
`$name` in a prompt's text is replaced by the argument's value at prompts/get time (its `default` when
the client gives none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tao_ocrnet.config.render import GENERATED_BY
from tao_ocrnet.config.shipped import SHIPPED_MODELS
from tao_ocrnet.skill.model_card import MODEL_CARD
from tao_ocrnet.skill.text import render_text

PROMPTS_FILE = "schemas/mcp/prompts.json"
TEMPLATE = "mcp-prompts.md.j2"


@dataclass(frozen=True)
class Arg:
    name: str
    description: str
    required: bool = True
    default: str | None = None
    complete: str | None = None  # job_id | study | action: what completion/complete offers

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description, "required": self.required}
        if self.default is not None:
            out["default"] = self.default
        if self.complete is not None:
            out["complete"] = self.complete
        return out


TRAIN_DATA = Arg("train_dataset", "folder with the training data (train.tar.gz or train/, train/gt_new.txt)")
EVAL_DATA = Arg("eval_dataset", "folder with the validation data (test.tar.gz or test/, character_list)")
EPOCHS = Arg("num_epochs", "training epochs", required=False, default="10")

PROMPTS: tuple[tuple[str, str, str, tuple[Arg, ...]], ...] = (
    ("train_on_my_data", "Train OCRNet on my data",
     "Convert my labelled word crops and train an OCRNet model on them (AutoML by default, or one plain run).",
     (TRAIN_DATA, EVAL_DATA, EPOCHS)),
    ("finetune_shipped_model", "Fine-tune the shipped model",
     "Measure the shipped OCRNet model on my data, fine-tune it there and compare.",
     (TRAIN_DATA, EVAL_DATA, EPOCHS)),
    ("deploy_model", "Deploy to TensorRT or ONNX Runtime",
     "Export a trained OCRNet job to ONNX and run it on ONNX Runtime or build and evaluate a TensorRT engine.",
     (Arg("job_id", "the COMPLETE train, retrain or prune job to deploy", complete="job_id"),
      Arg("runtime", "tensorrt or onnxruntime", required=False, default="tensorrt"),
      Arg("eval_dataset", "folder with the evaluation data", required=False, default="the train job's eval_dataset"))),
    ("follow_training", "Follow a training", "Report how an AutoML study or a training job is going.",
     (Arg("study", "the AutoML study (ocrnet_train's `study`)", required=False, default="(none)", complete="study"),
      Arg("job_id", "a train job id", required=False, default="(none)", complete="job_id"))),
    ("explain_action", "Explain an action", "What one OCRNet action needs and the tool call that runs it.",
     (Arg("action", "the action, e.g. train, export, gen_trt_engine", complete="action"),)),
)  # fmt: skip


def prompts_document() -> dict[str, Any]:
    shipped = next(iter(SHIPPED_MODELS))
    prompts = []
    for name, title, description, args in PROMPTS:
        text = render_text(TEMPLATE, prompt=name, shipped=shipped, model_card=MODEL_CARD).strip() + "\n"
        prompts.append({"name": name, "title": title, "description": description,
                        "arguments": [a.wire() for a in args], "text": text})  # fmt: skip
    return {"generated_by": GENERATED_BY, "prompts": prompts}
