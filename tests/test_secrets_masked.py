# SPDX-License-Identifier: Apache-2.0
"""Secrets never reach a user's screen: `ocrnet spec render`, validation errors and S3 endpoint errors mask
them (the real CLI; a real HTTP endpoint on 127.0.0.1 that denies every request)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
import yaml

from tao_ocrnet.cli import main as cli
from tao_ocrnet.config.secrets import MASK

from jobs_fixtures import jobs_env, run  # noqa: F401

SECRET = "TopSecret-8c1f27"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_spec_render_masks_secrets(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"quantize": {"backend_kwargs": {"api_key": SECRET, "level": 2}}}))
    code, out, err = _cli(capsys, "spec", "render", "train", "-e", str(spec), f"encryption_key={SECRET}")
    assert code == 0, err
    assert SECRET not in out + err
    rendered = yaml.safe_load(out)
    assert rendered["encryption_key"] == MASK
    assert rendered["quantize"]["backend_kwargs"] == {"api_key": MASK, "level": 2}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["encryption_key=[SECRET]"], r"`encryption_key` = <a list, not shown>"),
        (["encryption_key={key: SECRET}"], r"`encryption_key` = <a dict, not shown>"),
        (["encryption_key=SECRET", "encryption_key=SECRET-2"], r"`encryption_key` is set twice"),
        (["model.backbone=https://user:SECRET@example.com/x"], rf"https://{MASK}@example.com/x"),
    ],
    ids=["list", "mapping", "given-twice", "url-password"],
)
def test_validation_errors_do_not_echo_secrets(capsys, argv, expected):
    argv = [a.replace("SECRET", SECRET) for a in argv]
    code, out, err = _cli(capsys, "spec", "validate", "train", *argv)
    assert code == 2 and out == ""
    assert expected in err, err
    assert SECRET not in err


@pytest.fixture
def denying_endpoint() -> Iterator[str]:
    """An S3-compatible endpoint that answers 403 to every request."""

    class Deny(http.server.BaseHTTPRequestHandler):
        def _deny(self) -> None:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET = _deny

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _aws(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "reader")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-under-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


def test_s3_endpoint_password_is_masked_in_errors(jobs_env, denying_endpoint, monkeypatch, capsys):  # noqa: F811
    _aws(monkeypatch, f"http://user:{SECRET}@{denying_endpoint}")
    code, out, err = run(capsys, "submit", "dataset_convert", "--train-dataset", "s3://ocr-data/sets", "--dry-run")
    assert code == 2 and out == ""
    assert f"access denied to s3://ocr-data/sets/train.tar.gz at http://{MASK}@{denying_endpoint}" in err, err
    assert SECRET not in err
    assert jobs_env.entries() == ([], [])


def test_invalid_s3_endpoint_is_named_not_printed(jobs_env, monkeypatch, capsys):  # noqa: F811
    _aws(monkeypatch, f"htp//user:{SECRET}@host")  # not a URL: botocore's own message would print it whole
    code, out, err = run(capsys, "submit", "dataset_convert", "--train-dataset", "s3://ocr-data/sets", "--dry-run")
    assert code == 2 and out == ""
    assert "AWS_ENDPOINT_URL is not a valid endpoint URL" in err, err
    assert SECRET not in err and "Traceback" not in err
    assert jobs_env.entries() == ([], [])
