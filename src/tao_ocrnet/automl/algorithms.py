# SPDX-License-Identifier: Apache-2.0
"""The search algorithms: the sampler and pruner of each `algorithm` setting, and the first batch.

Algorithm mapping (TAO AutoML's names -> Optuna samplers and pruners):
- bayesian: GPSampler (needs torch + scipy; TPE when they are missing, and the review says so), no pruning;
- random: RandomSampler, no pruning;
- hyperband: TPE + HyperbandPruner(1, max_epochs, reduction_factor);
- asha: TPE + SuccessiveHalvingPruner(1, reduction_factor).
The first batch (baseline + startup trials) is sampled at creation and enqueued, so the review lists
exactly what runs first; the samplers' startup count equals that batch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from typing import Any

from tao_ocrnet.automl.settings import AutoMLSettings
from tao_ocrnet.automl.space import SearchSpace
from tao_ocrnet.automl.stored_config import StudyConfig


def gp_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "scipy"))


def describe_algorithm(algorithm: str, epochs: int, reduction_factor: int, first_batch: int) -> dict[str, str]:
    """What runs for an algorithm name, without importing the sampler (for the review)."""
    tpe = f"TPESampler(multivariate, constant_liar, n_startup_trials={first_batch})"
    if algorithm == "bayesian":
        sampler = (
            f"GPSampler(n_startup_trials={first_batch})"
            if gp_available()
            else f"{tpe} (GPSampler needs torch and scipy, which are not installed)"
        )
        return {"sampler": sampler, "pruner": "none (every trial trains max_epochs)"}
    if algorithm == "random":
        return {"sampler": "RandomSampler", "pruner": "none (every trial trains max_epochs)"}
    if algorithm == "hyperband":
        return {"sampler": tpe, "pruner": f"HyperbandPruner(min_resource=1, max_resource={epochs}, "
                f"reduction_factor={reduction_factor})"}  # fmt: skip
    return {"sampler": tpe, "pruner": f"SuccessiveHalvingPruner(min_resource=1, reduction_factor={reduction_factor})"}


def make_sampler(cfg: StudyConfig, index: int) -> Any:
    """The sampler of worker `index`: seeds differ per worker so that workers never propose the same points.

    `seed` itself drew the first batch; a worker seeded with it would draw those configurations again.
    """
    import optuna

    algorithm = cfg.settings["algorithm"]
    seed = (cfg.seed + 1 + index) % (2**31)
    if algorithm == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if algorithm == "bayesian" and gp_available():
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=cfg.first_batch, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.first_batch)


def make_pruner(cfg: StudyConfig) -> Any:
    import optuna

    s = cfg.settings
    if s["algorithm"] == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=cfg.epochs, reduction_factor=s["reduction_factor"]
        )
    if s["algorithm"] == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=s["reduction_factor"], min_early_stopping_rate=0
        )
    return optuna.pruners.NopPruner()


def first_batch_size(settings: AutoMLSettings) -> int:
    """Baseline + startup trials: configurations that do not depend on any result."""
    startup = max(1, min(5, settings.max_recommendations // 2))
    return min(settings.max_recommendations, max(startup, settings.max_concurrent))


def sample_first_batch(space: SearchSpace, size: int, seed: int) -> list[dict[str, Any]]:
    """[{params (Optuna), specs (dotted), baseline}] for the first `size` trials; trial 0 is the baseline."""
    import optuna

    with quiet_optuna():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), direction="maximize")
        baseline = space.baseline_values()
        study.enqueue_trial(space.fixed_params(baseline))
        out = []
        for i in range(size):
            trial = study.ask()
            specs = space.suggest(trial, baseline=i == 0)
            out.append({"params": dict(trial.params), "specs": specs, "baseline": i == 0})
    return out


@contextlib.contextmanager
def quiet_optuna():
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            # The baseline may sit outside the searched range on purpose (e.g. Adadelta's lr = 1.0 is inside,
            # a user's 2.0 is not): Optuna warns about such fixed values.
            warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")
            yield
    finally:
        optuna.logging.set_verbosity(level)
