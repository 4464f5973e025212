# SPDX-License-Identifier: Apache-2.0
"""AutoML input checks, all before any trial starts: settings, search space, storage, study names; plus the
search-space sampling rules and the best_rec.json schema. Nothing here trains."""

from __future__ import annotations

import collections
import json
import math

import jsonschema
import optuna
import pytest

from automl_fixtures import TINY, automl, automl_env  # noqa: F401
from tao_ocrnet.automl.best_rec_schema import validate_best_rec
from tao_ocrnet.automl.plan import StudyRequest, plan_study
from tao_ocrnet.automl.ranges import build_space
from tao_ocrnet.automl.router import study_request
from tao_ocrnet.automl.runner import review_study
from tao_ocrnet.automl.settings import parse_settings
from tao_ocrnet.automl.space import SearchSpace
from tao_ocrnet.automl.trial import StatusTail
from tao_ocrnet.config.tao_schema import tao_schema
from tao_ocrnet.config.templates import template_dict
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.errors import SpecError, UserError
from tao_ocrnet.jobs.request import JobRequest

from jobs_fixtures import synth_root  # noqa: F401
from tiny_config import TINY_TRAIN

SCHEMA = tao_schema("train")
ADAM = {**template_dict("train"), "train": {**template_dict("train")["train"], "optim": {"name": "adam", "lr": 1e-3}}}


def problems(exc: pytest.ExceptionInfo) -> str:
    return "\n".join(exc.value.problems)


# --- settings --------------------------------------------------------------------------------------------


def test_settings_defaults_and_tao_prefixed_keys():
    s = parse_settings({"automl_max_recommendations": 7, "automl_max_epochs": 3, "algorithm": "B"})
    assert (s.algorithm, s.max_recommendations, s.max_epochs, s.metric, s.direction) == (
        "bayesian", 7, 3, "val_acc", "maximize"
    )  # fmt: skip
    assert parse_settings(None).max_recommendations == 10


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"max_recomendations": 5}, "unknown AutoML setting `max_recomendations`; did you mean `max_recommendations`"),
        (
            {"algorithm": "bayesain"},
            "unknown algorithm `bayesain`; choose one of bayesian, random, hyperband, asha; did you mean `bayesian`?",
        ),
        ({"algorithm": "pbt"}, "algorithm `pbt` is not offered by this runner: population-based training needs Ray"),
        ({"session_id": "abc"}, "a study is resumed by its name"),
        ({"metric": "val_loss"}, "AutoML setting `metric` = 'val_loss'"),
        ({"max_recommendations": 0}, "AutoML setting `max_recommendations` = 0"),
        ({"study_name": "a b"}, "AutoML setting `study_name` = 'a b': use letters"),
    ],
)
def test_bad_settings_are_errors_with_a_hint(data, expected):
    with pytest.raises(SpecError) as exc:
        parse_settings(data)
    assert expected in problems(exc)


# --- search space ----------------------------------------------------------------------------------------


def test_default_space_from_the_schema():
    space = build_space(SCHEMA, template_dict("train"))
    rows = {r["name"]: r for r in space.describe()}
    assert sorted(rows) == sorted(SCHEMA["automl_default_parameters"])
    lr = rows["train.optim.lr"]
    assert lr["log"] is True and lr["range"] == [0.05, 1.0]  # Adadelta, the template's optimizer
    assert rows["dataset.augmentation.aug_prob"]["range"] == [0.0, 1.0]
    assert rows["dataset.augmentation.blur_prob"]["condition"] == "only when dataset.augmentation.aug_prob > 0"
    assert space.keys[0] == "dataset.augmentation.aug_prob"  # the gate comes before its children
    assert all(math.isfinite(v) for r in rows.values() for v in r.get("range", []))


def test_lr_follows_the_optimizer_and_gated_knobs_wait_for_aug_prob():
    space = build_space(SCHEMA, ADAM, ["train.optim.name", "train.optim.lr", "dataset.augmentation.aug_prob",
                                       "dataset.augmentation.rotate_prob"])  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.fixed_params(space.baseline_values()))
    baseline = space.suggest(study.ask(), baseline=True)
    assert baseline == {"train.optim.name": "adam", "train.optim.lr": 1e-3, "dataset.augmentation.aug_prob": 0.0}
    for _ in range(40):
        values = space.suggest(study.ask())
        lo, hi = {"adam": (1e-5, 1e-3), "adadelta": (0.05, 1.0)}[values["train.optim.name"]]
        assert lo <= values["train.optim.lr"] <= hi
        assert ("dataset.augmentation.rotate_prob" in values) == (values["dataset.augmentation.aug_prob"] > 0)


def test_custom_ranges_narrow_and_option_weights_are_honoured():
    ranges = {
        "train.optim.lr": {"valid_min": 1e-4, "valid_max": 1e-3},
        "model.backbone": {"valid_options": ["ResNet", "ResNet2X", "FAN_tiny_2X"], "option_weights": [3, 1, 0]},
        "dataset.batch_size": {"valid_options": [8, 16]},
    }
    space = build_space(SCHEMA, ADAM, ["train.optim.lr"], ranges)
    assert set(space.keys) == {"train.optim.lr", "model.backbone", "dataset.batch_size"}  # ranges extend the list
    assert any("custom range" in note for note in space.notes)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = collections.Counter()
    for _ in range(400):
        values = space.suggest(study.ask())
        assert 1e-4 <= values["train.optim.lr"] <= 1e-3 and values["dataset.batch_size"] in (8, 16)
        seen[values["model.backbone"]] += 1
    assert seen["FAN_tiny_2X"] == 0 and 2.4 < seen["ResNet"] / seen["ResNet2X"] < 3.8
    again = SearchSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again.describe() == space.describe()


@pytest.mark.parametrize(
    ("parameters", "ranges", "expected"),
    [
        (None, {"train.optim.lr": {"valid_min": 0.5, "valid_max": 0.1}}, "valid_min 0.5 is greater than valid_max 0.1"),
        (
            None,
            {"train.optim.lr": {"valid_min": 1e-3, "valid_max": 20}},
            "valid_max = 20 is outside the schema's bounds (0, 10]",
        ),
        (None, {"dataset.augmentation.rotate_prob": {"valid_min": -0.1}}, "outside the schema's bounds [0, 1]"),
        (None, {"train.optim.lr": {"min": 0.1}}, "`min` is not a range key; did you mean `valid_min`?"),
        (None, {"model.backbone": {"valid_options": ["VGG"]}}, "valid_options ['VGG'] are not allowed"),
        (["train.num_epochs"], None, "`train.num_epochs` is not tunable: it is the trial budget"),
        (["dataset.train_dataset_dir"], None, "`dataset.train_dataset_dir` is AutoML-disabled"),
        (["evaluate.batch_size"], None, "`evaluate.batch_size` is not a training parameter"),
        (["model.pruned_graph_path"], None, "is a string; only numbers, booleans and choices are searchable"),
        (["train.optim.lrr"], None, "unknown parameter `train.optim.lrr`; did you mean `train.optim.lr`?"),
        (["train.optim.name"], None, "searching `train.optim.name` needs `train.optim.lr` too"),
        (["dataset.augmentation.blur_prob"], None, "has no effect while `dataset.augmentation.aug_prob` = 0.0"),
    ],
)
def test_bad_search_spaces_are_errors(parameters, ranges, expected):
    with pytest.raises(SpecError) as exc:
        build_space(SCHEMA, template_dict("train"), parameters, ranges)
    assert expected in problems(exc)


# --- small pieces ----------------------------------------------------------------------------------------


def test_status_tail_reads_validations_only(tmp_path):
    path = tmp_path / "status.json"
    tail = StatusTail(path)
    assert tail.new_validations() == []
    lines = [
        {"status": "STARTED", "message": "Starting OCRNet train."},
        {"message": "Eval metrics generated.", "kpi": {"val_acc": 0.25, "val_loss": 1.0}, "epoch": 0},
        {"message": "Train epoch 0 finished.", "kpi": {"train_loss": 2.0}, "epoch": 0},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"kpi": {"val_acc": 0.5}, "ep')  # a torn line
    assert tail.new_validations() == [(1, 0.25, 0)]
    with path.open("a") as fh:
        fh.write('och": 1}\n' + json.dumps({"message": "Training finished.", "kpi": {"val_acc": 0.5}}) + "\n")
    assert tail.new_validations() == [(2, 0.5, 1)]  # the closing summary line is not a validation


def test_best_rec_schema_rejects_dotted_and_budget_keys():
    good = {
        "schema_version": 1, "experiment_id": "s", "metric_name": "val_acc", "direction": "maximize",
        "best": {"rec_id": "2", "score": 0.5, "specs": {"train": {"optim": {"lr": 0.1}}},
                 "observed_budget": {"train.num_epochs": 3}, "checkpoint_uri": "/r/best_accuracy.pth"},
        "all_recs": [{"rec_id": "2", "score": 0.5, "job_id": "ocrnet-train-abcdef"}, {"rec_id": "3", "score": None}],
    }  # fmt: skip
    validate_best_rec(good)
    for specs in ({"train.optim": {"lr": 0.1}}, {"train": {"num_epochs": 3}}):
        bad = json.loads(json.dumps(good))
        bad["best"]["specs"] = specs
        with pytest.raises(jsonschema.ValidationError):
            validate_best_rec(bad)
    del good["metric_name"]
    with pytest.raises(jsonschema.ValidationError):
        validate_best_rec(good)


def test_router_rejects_what_a_study_cannot_do():
    with pytest.raises(UserError, match="cannot seed an AutoML study"):
        study_request(JobRequest("train", resume_from="ocrnet-train-abcdef"))


# --- through the CLI: errors before anything is created --------------------------------------------------


def _nothing_created(env) -> None:
    jobs, _ = env.entries()
    assert not (env.home / "automl").exists() or not any((env.home / "automl").iterdir())
    assert [j for j in jobs if j.startswith("ocrnet-train")] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--algorithm", "hyperbnd"], "did you mean `hyperband`?"),
        (["--set", "max_concurent=2"], "did you mean `max_concurrent`?"),
        (["--range", "train.optim.lr=0.5:0.1"], "valid_min 0.5 is greater than valid_max 0.1"),
        (["--range", "dataset.augmentation.aug_prob=0:2"], "outside the schema's bounds [0, 1]"),
        (["--param", "train.seed"], "`train.seed` is not tunable"),
        (["--storage", "postgresql://nobody@127.0.0.1:9/none"], "storage `postgresql://nobody@127.0.0.1:9/none`"),
        (["--storage", "redis://localhost"], "storage scheme `redis` is not supported"),
        (["--storage", "sqlite:////no/such/folder/x.db"], "the SQLite folder `/no/such/folder` does not exist"),
    ],
)
def test_cli_rejects_bad_input_before_any_trial(capsys, automl_env, synth_root, args, expected):  # noqa: F811
    code, out, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "bad", *args, *TINY)
    assert code == 2, out
    assert expected in err.replace("\n", " ") or expected in err
    _nothing_created(automl_env)


def test_unreachable_storage_message_has_no_password(capsys, automl_env, synth_root):  # noqa: F811
    url = "postgresql://user:s3cret@127.0.0.1:9/none"
    code, _, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--storage", url, *TINY)
    assert code == 2 and "s3cret" not in err and "*****" in err


def test_existing_study_name_without_resume(capsys, automl_env, synth_root, tmp_path):  # noqa: F811
    # A local workspace of that name ...
    (automl_env.home / "automl" / "taken").mkdir(parents=True)
    code, _, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "taken", *TINY)
    assert code == 2 and "study `taken` already exists" in err and "ocrnet automl resume taken" in err
    # ... or a study of that name in a shared storage.
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(study_name="shared", storage=url)
    code, _, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "shared", "--storage", url,
                          *TINY)  # fmt: skip
    assert code == 2 and "study `shared` already exists in sqlite:///" in err
    assert not (automl_env.home / "automl" / "shared").exists()


def test_dry_run_reviews_and_creates_nothing(capsys, automl_env, synth_root):  # noqa: F811
    code, out, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "rev", "--seed", "5",
                            "--max-recommendations", "6", "--max-epochs", "2", "--delete-intermediate-ckpt",
                            "--dry-run", "train.checkpoint_interval=5", *TINY)  # fmt: skip
    assert code == 0, err
    review = json.loads(out)
    assert review["study"] == "rev" and review["seed"] == 5 and review["metric"] == "val_acc"
    assert review["delete_intermediate_ckpt"] is True
    assert review["budget"]["max_epochs"] == 2 and review["budget"]["epochs_upper_bound"] == 12
    assert review["fixed_overrides"]["train.checkpoint_interval"] == 2  # clamped to the trial's epochs
    assert any("clamped from 5 to 2" in a for a in review["adjustments"])
    batch = review["first_batch"]
    assert len(batch) == 3 and batch[0]["baseline"] and batch[0]["specs"]["train.optim.lr"] == 0.001
    assert all(1e-5 <= b["specs"]["train.optim.lr"] <= 1e-3 for b in batch)
    again = json.loads(automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "rev", "--seed", "5",
                              "--max-recommendations", "6", "--max-epochs", "2", "--dry-run", *TINY)[1])  # fmt: skip
    assert again["first_batch"] == batch  # the same seed shows the same first batch
    _nothing_created(automl_env)


def test_review_then_start_show_the_same_first_batch_without_a_seed(automl_env, synth_root):  # noqa: F811
    request = StudyRequest(roots=DataRoots(train_datasets=(str(synth_root),)), overrides=TINY_TRAIN)
    review = review_study({"max_recommendations": 6}, request)
    plan = plan_study({"max_recommendations": 6}, request)  # what start_study runs
    assert plan.config.seed == review["seed"]
    assert [b["specs"] for b in plan.first_batch] == [b["specs"] for b in review["first_batch"]]
    seeded = StudyRequest(request.roots, overrides={**TINY_TRAIN, "train.seed": 7})
    other = plan_study({"max_recommendations": 6}, seeded)
    assert other.config.seed != plan.config.seed
    _nothing_created(automl_env)


def test_relative_model_paths_are_made_absolute_for_every_trial(automl_env, synth_root, tmp_path, monkeypatch):  # noqa: F811
    # Trials run in their own job folders: a path typed relative to the caller's folder must still name the file.
    from tao_ocrnet.config.shipped import shipped_model_file

    monkeypatch.chdir(tmp_path)
    (tmp_path / "start.pth").write_bytes(shipped_model_file("ocrnet_cpu_small").read_bytes())
    overrides = {**TINY_TRAIN, "model.feature_channel": 64, "model.hidden_size": 64,
                 "train.pretrained_model_path": "start.pth"}  # fmt: skip
    plan = plan_study({"max_recommendations": 2}, StudyRequest(DataRoots(train_datasets=(str(synth_root),)), overrides))
    assert plan.config.fixed["train.pretrained_model_path"] == str(tmp_path / "start.pth")
    _nothing_created(automl_env)
