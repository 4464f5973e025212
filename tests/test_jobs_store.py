# SPDX-License-Identifier: Apache-2.0
"""Job records and the store: schema, append-only transitions, terminal immutability, redaction, locking,
and 50 concurrent submits leaving 50 intact records."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from tao_ocrnet.config.secrets import MASK, redact
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs import ids
from tao_ocrnet.jobs.record import (
    CANCELED,
    COMPLETE,
    ERROR,
    RECORD_SCHEMA,
    RUNNING,
    new_record,
    normalize_state,
    state_of,
)
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.jobs.store import JobStore, TerminalStateError

from jobs_fixtures import FakePlatform, jobs_env, synth_root  # noqa: F401

VALIDATOR = jsonschema.Draft202012Validator(RECORD_SCHEMA)


def open_record(store: JobStore, action: str = "train", **extra) -> dict:
    job_id = store.reserve(action)
    extra.setdefault("spec", {"encryption_key": ""})
    record = new_record(
        job_id=job_id, action=action, command=f"ocrnet {action} -e {{config_path}}", platform="local",
        results_dir=f"/results/{job_id}", job_dir=str(store.job_dir(job_id)), **extra,
    )  # fmt: skip
    return store.create(record)


def test_ids_and_vocabulary():
    from tao_ocrnet.config.actions import NETWORK_ARCH

    assert ids.PREFIX == NETWORK_ARCH
    job_id = ids.new_job_id("dataset_convert")
    assert ids.check_job_id(job_id) == job_id and ids.action_of(job_id) == "dataset_convert"
    for bad in ("../etc/passwd", "ocrnet-train-12345", "ocrnet-train-1234567", "x-train-abcdef", ""):
        with pytest.raises(UserError, match="not a job id"):
            ids.check_job_id(bad)
    assert normalize_state("Succeeded") == COMPLETE and normalize_state("cancelled") == CANCELED
    assert normalize_state("failure") == ERROR and normalize_state("running") == RUNNING
    with pytest.raises(ValueError):
        normalize_state("exploded")


def test_transitions_append_and_terminal_is_final(tmp_path):
    store = JobStore(tmp_path / "jobs")
    record = open_record(store)
    VALIDATOR.validate(record)
    job_id = record["id"]
    store.mark(job_id, RUNNING, "started", "agent", backend_ref={"pid": 1})
    store.mark(job_id, RUNNING, "epoch 1", "poller")
    done = store.mark(job_id, COMPLETE, "exit 0", "backend-hook", exit_code=0, kpis={"val_acc": 0.5})
    VALIDATOR.validate(done)
    assert [t["state"] for t in done["transitions"]] == ["PENDING", RUNNING, RUNNING, COMPLETE]
    assert [t["ts"] for t in done["transitions"]] == sorted(t["ts"] for t in done["transitions"])
    assert done["terminal_state"] == COMPLETE and done["terminal_write_by"] == "backend-hook"
    assert done["exit_code"] == 0 and done["kpis"] == {"val_acc": 0.5}
    # The same terminal state again is a no-op; anything else is refused and nothing changes.
    assert store.mark(job_id, COMPLETE, "again", "poller") == done
    with pytest.raises(TerminalStateError, match="already COMPLETE"):
        store.mark(job_id, ERROR, "late", "poller")
    assert store.read(job_id) == done
    with pytest.raises(ValueError, match="written once"):
        store.mark(job_id, RUNNING, "x", "agent", spec={})
    # The exclusive first write never overwrites a record.
    with pytest.raises(FileExistsError):
        store.create(done)
    assert not list(store.job_dir(job_id).glob(".record-*"))  # no temp files left


def test_secrets_are_masked_in_records(tmp_path):
    store = JobStore(tmp_path / "jobs")
    record = open_record(
        store,
        spec={"encryption_key": "tlt_encode", "train": {"num_epochs": 3}},
        request={"overrides": ["wandb.api_key=abc", "train.num_epochs=3"], "note": "AKIAABCDEFGHIJKLMNOP"},
    )
    text = store.record_path(record["id"]).read_text()
    assert "tlt_encode" not in text and "abc" not in text and "AKIAABCDEFGHIJKLMNOP" not in text
    assert record["spec"]["encryption_key"] == MASK
    assert record["request"]["overrides"] == [f"wandb.api_key={MASK}", "train.num_epochs=3"]
    assert set(record["redacted"]) == {"spec.encryption_key", "request.overrides[0]", "request.note"}
    clean, found = redact({"key_env": "OCRNET_KEY", "credentials": ["AWS_SECRET_ACCESS_KEY"]})
    assert found == [] and clean["credentials"] == ["AWS_SECRET_ACCESS_KEY"]  # names are not secrets


def _mark_many(args: tuple[str, str, int]) -> None:
    root, job_id, worker = args
    store = JobStore(Path(root))
    for i in range(10):
        store.mark(job_id, RUNNING, f"worker {worker} step {i}", "poller")


def test_marks_from_many_processes_are_all_kept(tmp_path):
    store = JobStore(tmp_path / "jobs")
    job_id = open_record(store)["id"]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_mark_many, [(str(store.root), job_id, w) for w in range(4)])
    record = store.read(job_id)
    VALIDATOR.validate(record)
    messages = [t["message"] for t in record["transitions"][1:]]
    assert sorted(messages) == sorted(f"worker {w} step {i}" for w in range(4) for i in range(10))
    for w in range(4):  # each writer's own transitions stay in order
        mine = [m for m in messages if m.startswith(f"worker {w} ")]
        assert mine == [f"worker {w} step {i}" for i in range(10)]


def test_fifty_concurrent_submits_leave_fifty_intact_records(jobs_env, synth_root):  # noqa: F811
    platform = FakePlatform()
    service = JobService(platform=platform)
    request = JobRequest("dataset_convert", DataRoots(train_datasets=(str(synth_root),)))
    with ThreadPoolExecutor(max_workers=50) as pool:
        submitted = list(pool.map(lambda _: service.submit(request), range(50)))
    job_ids = {s.job_id for s in submitted}
    assert len(job_ids) == 50 and sorted(platform.launched) == sorted(job_ids)
    records = JobStore().list()
    assert {r["id"] for r in records} == job_ids
    for record in records:
        VALIDATOR.validate(record)
        assert [t["state"] for t in record["transitions"]] == ["PENDING", RUNNING]
        job_dir = Path(record["job_dir"])
        assert (job_dir / "spec.yaml").is_file() and (job_dir / "runner.py").is_file()
        assert not list(job_dir.glob(".record-*"))
        assert Path(record["results_dir"]).is_dir()
        json.loads((job_dir / "launch.json").read_text())
    # One shared extraction for all fifty (the staging folder is keyed by the archive, not the job).
    staged = list((jobs_env.home / "cache" / "staging").glob("*/train_datasets/train/.extracted"))
    assert len(staged) == 1


def test_list_skips_an_unreadable_record(tmp_path, caplog):
    store = JobStore(tmp_path / "jobs")
    good = open_record(store)
    (store.root / "ocrnet-train-badbad.json").write_text("{not json")
    assert [r["id"] for r in store.list()] == [good["id"]]
    assert "unreadable job record" in caplog.text
    assert state_of(good) == "PENDING"
