# SPDX-License-Identifier: Apache-2.0
"""`references/pretrained_model_card.md`: the shipped model's card, rendered from the facts that
recipes/ship_model.py recorded when it packaged the weights (so the card cannot drift from the file)."""

from __future__ import annotations

from typing import Any

from tao_ocrnet.model.shipped import DEFAULT_MODEL, shipped_model_facts
from tao_ocrnet.skill.mdtext import table
from tao_ocrnet.skill.render import MARKDOWN_MARKER

MODEL_CARD = "references/pretrained_model_card.md"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_model_card(facts: dict[str, Any] | None = None) -> str:
    f = facts or shipped_model_facts(DEFAULT_MODEL)
    a, d, t, r = f["architecture"], f["data"], f["training"], f["recipe"]
    opt = r["optimizer"]
    arch_rows = [
        ("Network", f"{'TPS-' if a['tps'] else ''}{a['backbone']}-BiLSTM-{a['prediction']}"),
        ("Widths", f"feature_channel {a['feature_channel']}, hidden_size {a['hidden_size']}"),
        ("Input", f"{a['input_channel']}x{a['input_height']}x{a['input_width']} (gray), labels up to "
                  f"{a['max_label_length']} characters"),
        ("Characters", f"`{f['charset']}` ({len(f['charset'])}; upper-case input reads as lower-case)"),
        ("Parameters", f"{f['parameters']:,}"),
        ("File", f"`src/tao_ocrnet/assets/{f['file']}`, {f['bytes'] / 2**20:.1f} MiB, weights only "
                 f"(`torch.load(weights_only=True)`), sha256 `{f['sha256'][:16]}…`"),
    ]  # fmt: skip
    lines = [
        MARKDOWN_MARKER,
        f"# Model card: `{f['name']}`",
        "",
        "A CPU-size OCRNet shipped inside the package so that users start from a model that reads. It was "
        "trained only on crops rendered by the project's own synthetic generator; nothing is downloaded.",
        "",
        "## Use",
        "",
        f"- Fine-tune: `train.pretrained_model_path={f['name']}` (the README demo does this). Tensors are copied "
        "by shape, and the CTC head rows by character, so another character list keeps what it shares.",
        f"- Read: `ocrnet inference` without `inference.checkpoint` uses it (the log says so); any model key "
        f"(`evaluate.checkpoint`, `export.checkpoint`, ...) accepts the name `{f['name']}`.",
        "- A file of the same name in the working folder takes precedence over the short name.",
        "",
        "## Architecture",
        "",
        table(("", ""), arch_rows),
        "",
        "## Training",
        "",
        f"- Recipe: `{r['spec']}`, one command (re-running it resumes from the newest checkpoint):",
        "",
        f"  ```bash\n  {r['command']}\n  ```",
        "",
        f"- Optimizer: {opt['name']} lr {opt['lr']}, {opt['lr_scheduler']} decay x{opt['lr_decay']} at epochs "
        f"{opt['lr_steps']}; batch {r['batch_size']}; augmentation probability {r['augmentation']['aug_prob']}.",
        f"- Data: {d['num_train']:,} training crops from `{d['generator']}` (seed {d['seed']}, "
        f"{d['train_fonts']} font files; lower / upper / mixed case rendered with lower-case labels, words and "
        "random strings, textured backgrounds, rotation, perspective, blur, noise, JPEG artefacts).",
        f"- Seen: {t['samples_seen']:,} samples ({t['epochs']} epochs, {t['steps']:,} steps); packaged from "
        f"`{t['checkpoint']}` (the newest checkpoint, not the best by validation).",
        f"- Wall time: {t['wall_time_hours']} h of training on {t['machine']}.",
        "",
        "## Accuracy",
        "",
        f"On the recipe's synthetic test split: {d['num_test']:,} crops whose font designs "
        f"({d['test_fonts']} files: {', '.join(d['test_font_families'])}) and words are disjoint from training: "
        f"word accuracy **{_pct(f['test']['accuracy'])}**, normalised edit distance {f['test']['norm_ed']:.3f}. "
        "`python benchmarks/bench_shipped.py` re-measures it and prints CPU latency and throughput "
        "(PyTorch and ONNX Runtime). By label length (a 100-pixel-wide input squeezes long labels the most):",
        "",
        table(
            ("Label length", "Test crops", "Word accuracy"),
            [(b["lengths"], str(b["samples"]), _pct(b["accuracy"])) for b in f["test"].get("by_label_length", [])],
        ),
        "",
        "## Limits",
        "",
        "- Synthetic training data only: real photos (curved text, heavy occlusion, unusual fonts) read worse; "
        "fine-tune on a few hundred of your own crops.",
        "- Long labels: a 32x100 input leaves 26 CTC steps, and labels of 9 or more characters (mostly random "
        "strings and long pseudo-words in the test set) read worse, as the table shows; use a wider "
        "`model.input_width` and fine-tune for long text.",
        "- Lower-case letters and digits only; punctuation and other scripts need another character list "
        "(fine-tuning keeps the shared characters).",
        "",
    ]
    return "\n".join(lines)
