# SPDX-License-Identifier: Apache-2.0
"""`references/pretrained_model_card.md`: the shipped model's card, rendered from the facts that
recipes/ship_model.py recorded when it packaged the weights (so the card cannot drift from the file)."""

from __future__ import annotations

from typing import Any

from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.config.shipped import DEFAULT_MODEL, shipped_model_facts
from tao_ocrnet.skill.mdtext import table

MODEL_CARD = "references/pretrained_model_card.md"


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def render_model_card(facts: dict[str, Any] | None = None) -> str:
    f = facts or shipped_model_facts(DEFAULT_MODEL)
    a, d, t, r = f["architecture"], f["data"], f["training"], f["recipe"]
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
        f"- Recipe: `{r['spec']}` and `recipes/pretrain_cpu.sh`, one command (re-running it resumes from the "
        "newest checkpoint of the phase it stopped in):",
        "",
        f"  ```bash\n  {r['command']}\n  ```",
        "",
        f"- Data: {d['num_train'] + d.get('num_more', 0):,} training crops from `{d['generator']}` (seed "
        f"{d['seed']}, {d['train_fonts']} font files; lower / upper / mixed case rendered with lower-case labels, "
        "words and random strings, textured backgrounds, rotation, perspective, blur, noise, JPEG artefacts): "
        f"{d['num_train']:,} for phase 1, and {d.get('num_more', 0):,} more of the same fonts and words "
        "(numbered after them, test labels held out) added in phase 2.",
        f"- Batch {r['batch_size']}, augmentation probability {r['augmentation']['aug_prob']}, phases:",
        "",
        table(
            ("Phase", "Starts from", "Training crops", "Optimizer", "Epochs", "Samples seen", "Wall time"),
            [
                (
                    f"{i} (`{ph['results']}/`)",
                    ph["start"],
                    f"{ph['train_crops']:,}",
                    f"{ph['optimizer']['name']} lr {ph['optimizer']['lr']}, x{ph['optimizer']['lr_decay']} at "
                    f"epochs {ph['optimizer']['lr_steps']}",
                    str(ph["epochs"]),
                    f"{ph['samples_seen']:,}",
                    f"{ph['wall_time_hours']} h",
                )
                for i, ph in enumerate(t["phases"], start=1)
            ],
        ),
        "",
        f"- In all: {t['samples_seen']:,} samples ({t['steps']:,} steps) in {t['wall_time_hours']} h of training "
        f"on {t['machine']}; packaged from `{t['checkpoint']}` (the newest checkpoint, not the best by validation).",
        "",
        "## Accuracy",
        "",
        f"On the recipe's synthetic test split: {d['num_test']:,} crops whose font designs "
        f"({d['test_fonts']} files: {', '.join(d['test_font_families'])}) and words are disjoint from training: "
        f"word accuracy **{_pct(f['test']['accuracy'], 2)}**, normalised edit distance {f['test']['norm_ed']:.3f}. "
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
