# SPDX-License-Identifier: Apache-2.0
"""The results-folder contract every action writes and every reader (jobs, AutoML, MCP) relies on.

`layout`: where an action writes (TAO's results_dir rule); `status`: status.json, its writer and its readers;
`checkpoints`: the checkpoint file names; `experiment`: the resolved spec saved beside the results; `lock`: one
run at a time per results folder; `partial`: unfinished outputs, never data, cleaned once no process holds them.
Nothing here imports torch; `layout` and `status` import no pydantic either (the jobs layer reads them).
"""
