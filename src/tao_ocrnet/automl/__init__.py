# SPDX-License-Identifier: Apache-2.0
"""AutoML: the train policy (`policy`) and the Optuna runner (`runner` is its API; `cli` is `ocrnet automl`).

Nothing here imports torch or optuna at package import time.
"""
