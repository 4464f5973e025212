# SPDX-License-Identifier: Apache-2.0
from action_fixtures import trained_workspace  # noqa: F401
from data_fixtures import charset_file, raw_set, synth_dataset, synth_lmdb  # noqa: F401
from deploy_fixtures import attn_tps_model, exported_ctc, one_thread  # noqa: F401
from mcp_fixtures import mcp_data, mcp_env  # noqa: F401
