# SPDX-License-Identifier: Apache-2.0
import pytest

from action_fixtures import trained_workspace  # noqa: F401
from data_fixtures import charset_file, raw_set, synth_dataset, synth_lmdb  # noqa: F401
from deploy_fixtures import attn_tps_model, exported_ctc, one_thread  # noqa: F401
from mcp_fixtures import mcp_data, mcp_env  # noqa: F401

# Under pytest-xdist (`--dist loadgroup`, the README's command) every test of a loopback service runs in one worker:
# the fixture that started a service stops it at the end of its session, which must not cut off another worker.
SERVICE_FIXTURES = ("slurm_cluster", "postgres_url")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if set(SERVICE_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("services"))
