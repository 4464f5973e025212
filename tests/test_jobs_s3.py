# SPDX-License-Identifier: Apache-2.0
"""Datasets served by a real S3-compatible server on 127.0.0.1 (moto's ThreadedMotoServer) as s3:// URIs:
jobs run from them, objects are cached by identity, credentials are used by name only, and access denied,
a missing bucket or a missing object are clear errors before anything is recorded."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tao_ocrnet.datasources import s3 as s3mod

from jobs_fixtures import jobs_env, run, submit_wait, synth_root  # noqa: F401

FILES = ("train.tar.gz", "train/gt_new.txt", "test.tar.gz", "test/gt_new.txt", "character_list")
PREFIX = "sets/v1"


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server(synth_root: Path) -> Iterator[S3Server]:  # noqa: F811
    """Buckets `ocr-data` (readable) and `private-data` (denied) behind IAM auth, with the synthetic data."""
    boto3 = pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    from moto import settings

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    admin = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="admin", aws_secret_access_key="x")
    s3, iam = boto3.client("s3", **admin), boto3.client("iam", **admin)
    for bucket in ("ocr-data", "private-data"):
        s3.create_bucket(Bucket=bucket)
        for name in FILES:
            s3.upload_file(str(synth_root / name), bucket, f"{PREFIX}/{name}")
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::private-data", "arn:aws:s3:::private-data/*"]},
        ],
    }  # fmt: skip
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from here on every request is authenticated and authorized
    try:
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = saved
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> S3Server:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3", *s3mod.LEGACY_NAMES.values()):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_server


def _dry(capsys, *args: str) -> dict:
    code, out, err = run(capsys, "submit", *args, "--dry-run")
    assert code == 0, err
    return yaml.safe_load(out)


def _objects(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_mtime_ns for p in (home / "cache" / "objects").rglob("*")
            if p.is_file() and not p.name.startswith(".")}  # fmt: skip


@pytest.mark.slow
def test_jobs_from_s3(jobs_env, aws_env, capsys):  # noqa: F811
    uri = f"s3://ocr-data/{PREFIX}"
    train = submit_wait(capsys, "dataset_convert", "--train-dataset", uri)
    ev = submit_wait(capsys, "dataset_convert", "--eval-dataset", f"aws://ocr-data/{PREFIX}/")
    assert train["kpis"]["written"] == 48 and ev["kpis"]["written"] == 16
    record_text = (jobs_env.jobs / f"{train['id']}.json").read_text()
    record = json.loads(record_text)
    assert record["credentials"] == ["AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                                     "AWS_SECRET_ACCESS_KEY"]  # fmt: skip
    assert aws_env.secret_key not in record_text and aws_env.access_key not in record_text
    assert record["inputs"]["dataset_convert.input_img_dir"][0]["uri"] == uri
    log = (Path(record["job_dir"]) / "job.log").read_text()
    assert aws_env.secret_key not in log

    # The LMDBs of those jobs feed train; the character list comes from their S3 root.
    spec = _dry(capsys, "train", "--train-dataset", f"job:{train['id']}", "--eval-dataset", f"job:{ev['id']}")
    d = spec["dataset"]
    assert d["train_dataset_dir"] == [train["results_dir"]] and d["val_dataset_dir"] == ev["results_dir"]
    assert Path(d["character_list_file"]).is_relative_to(jobs_env.home / "cache" / "objects")

    # Raw S3 roots: archives downloaded once (by bucket, key, ETag and size) and extracted once.
    before = _objects(jobs_env.home)
    assert len(before) == 5  # train.tar.gz, test.tar.gz, two gt files, character_list
    spec = _dry(capsys, "train", "--train-dataset", uri, "--eval-dataset", uri)
    assert _objects(jobs_env.home) == before  # nothing downloaded again
    assert Path(spec["dataset"]["train_dataset_dir"][0], "gt_new.txt").is_file()
    assert Path(spec["dataset"]["train_gt_file"]).read_text() == Path(spec["dataset"]["train_dataset_dir"][0],
                                                                       "gt_new.txt").read_text()  # fmt: skip


def test_legacy_tao_names_are_mapped(jobs_env, aws_env, monkeypatch, capsys):  # noqa: F811
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("ACCESS_KEY", aws_env.access_key)
    monkeypatch.setenv("SECRET_KEY", aws_env.secret_key)
    monkeypatch.setenv("S3_ENDPOINT_URL", aws_env.endpoint)
    monkeypatch.setenv("CLOUD_REGION", "us-east-1")
    settings = s3mod.settings_from_env()
    assert settings.access_key == aws_env.access_key and settings.endpoint == aws_env.endpoint
    assert settings.names == ("ACCESS_KEY", "SECRET_KEY", "S3_ENDPOINT_URL", "CLOUD_REGION")
    spec = _dry(capsys, "evaluate", "--eval-dataset", f"s3://ocr-data/{PREFIX}", "evaluate.checkpoint=ocrnet_cpu_small")
    assert Path(spec["evaluate"]["test_dataset_dir"]).name == "test"
    # A dry run downloads nothing large: the archive is looked up (HEAD), not fetched and not extracted.
    fetched = {Path(name).name for name in _objects(jobs_env.home)}
    assert "test.tar.gz" not in fetched and not Path(spec["evaluate"]["test_dataset_dir"]).exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"s3://private-data/{PREFIX}", r"access denied to s3://private-data/sets/v1/train\.tar\.gz .*HTTP 403"),
        (f"s3://no-such-bucket/{PREFIX}", "bucket `no-such-bucket` does not exist"),
        ("s3://ocr-data/sets/v9", r"`s3://ocr-data/sets/v9` has no train\.tar\.gz, needed for"),
        ("s3:///nobucket", "names no bucket"),
    ],
    ids=["access-denied", "missing-bucket", "missing-object", "no-bucket-name"],
)
def test_s3_errors_are_clear_and_record_nothing(jobs_env, aws_env, capsys, uri, message):  # noqa: F811
    import re

    code, out, err = run(capsys, "submit", "dataset_convert", "--train-dataset", uri)
    assert code == 2 and out == "" and re.search(message, err), err
    assert "credentials from AWS_ACCESS_KEY_ID" in err or "access denied" not in err
    assert aws_env.secret_key not in err
    assert jobs_env.entries()[0] == [] and jobs_env.entries()[1] == []


def test_bad_credentials_are_access_denied(jobs_env, aws_env, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    code, _, err = run(capsys, "submit", "dataset_convert", "--train-dataset", f"s3://ocr-data/{PREFIX}")
    assert code == 2 and "access denied" in err and "wrong-secret" not in err
