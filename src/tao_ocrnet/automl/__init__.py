# SPDX-License-Identifier: Apache-2.0
"""AutoML: the train policy (`policy`) and the Optuna runner (`runner` is its API; `cli` is `ocrnet automl`).

Modules: `space` (the search space and how a trial samples it) and `ranges` (building it from the train schema);
`stored_config` (what the Optuna study stores), `algorithms` (samplers, pruners, the first batch), `budget` (trial
accounting) and `recovery` (stale and interrupted trials); `plan` (every check before a study exists), `review`,
`runner`, `worker` (a process running trials, each one job: `trial`); `results`, `plot`, `workspace` (reports and
files on this host); `router` (MCP `ocrnet_train` -> a study).

Only `worker` imports optuna at module top (a worker process always needs it); every other module imports it
inside the functions that open a study, so `runner`, which the CLI and the MCP tools import, loads without it.
torch is needed by the bayesian sampler only (the worker loads it in the background).
"""
