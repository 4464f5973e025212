# SPDX-License-Identifier: Apache-2.0
"""S3 (and S3-compatible) objects for data sources: credentials by environment name, a download cache.

- Credentials and endpoint come from the standard AWS variables; the legacy TAO names are mapped to them
  for this process's client only (the environment is not changed): ACCESS_KEY -> AWS_ACCESS_KEY_ID,
  SECRET_KEY -> AWS_SECRET_ACCESS_KEY, S3_ENDPOINT_URL -> AWS_ENDPOINT_URL, CLOUD_REGION -> AWS_DEFAULT_REGION.
  Only the NAMES of the variables used are ever recorded.
- Retries and timeouts are botocore's own (`standard` retry mode); transfers use boto3's TransferConfig
  (multipart, its own download retries), with a progress line every 10 % for large objects.
- Objects are cached by identity (endpoint, bucket, key, ETag, size): a changed object is a new cache
  entry, an unchanged one is downloaded once.
- Every message names credentials by variable only and masks the `user:password@` of an endpoint URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from tao_ocrnet.atomic import file_lock
from tao_ocrnet.config.secrets import mask_text
from tao_ocrnet.errors import DataError

# boto3 and botocore's client config are imported inside the functions that make a client: they take about
# 0.3 s to load, which job submission with local roots (and every job list/status) does not pay.
log = logging.getLogger(__name__)

LEGACY_NAMES = {
    "AWS_ACCESS_KEY_ID": "ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY": "SECRET_KEY",
    "AWS_ENDPOINT_URL": "S3_ENDPOINT_URL",
    "AWS_DEFAULT_REGION": "CLOUD_REGION",
}
ENDPOINT_NAMES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_ENDPOINT_URL")
PROGRESS_MIN_BYTES = 32 << 20
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Settings:
    """The client settings taken from the environment, and the variable names they came from."""

    access_key: str | None
    secret_key: str | None
    session_token: str | None
    endpoint: str | None
    region: str | None
    names: tuple[str, ...]


def _pick(env: Mapping[str, str], *names: str) -> tuple[str | None, str | None]:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value, name
    return None, None


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    used: list[str] = []

    def take(*names: str) -> str | None:
        value, name = _pick(env, *names)
        if name:
            used.append(name)
        return value

    access = take("AWS_ACCESS_KEY_ID", LEGACY_NAMES["AWS_ACCESS_KEY_ID"])
    secret = take("AWS_SECRET_ACCESS_KEY", LEGACY_NAMES["AWS_SECRET_ACCESS_KEY"])
    token = take("AWS_SESSION_TOKEN")
    endpoint = take(*ENDPOINT_NAMES)
    region = take("AWS_REGION", "AWS_DEFAULT_REGION", LEGACY_NAMES["AWS_DEFAULT_REGION"])
    return Settings(access, secret, token, endpoint, region, tuple(used))


@cache
def _client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=60,
        # S3-compatible stores rarely serve virtual-host-style bucket names.
        s3={"addressing_style": "path"} if settings.endpoint else {},
    )
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        aws_session_token=settings.session_token,
        region_name=settings.region or "us-east-1",
    )
    return session.client("s3", endpoint_url=settings.endpoint, config=config)


def client(settings: Settings | None = None) -> Any:
    settings = settings or settings_from_env()
    try:
        return _client(settings)
    except ValueError as exc:
        if isinstance(exc, BotoCoreError):  # e.g. an invalid region: described with the request's error
            raise
        # botocore's "Invalid endpoint: <url>" would print the URL with any password in it.
        name = next((n for n in ENDPOINT_NAMES if n in settings.names), ENDPOINT_NAMES[1])
        raise DataError(f"{name} is not a valid endpoint URL; set it to http(s)://host[:port]") from None


def _error(message: str) -> DataError:
    """A DataError whose text shows no secret (an endpoint URL or a botocore message may hold a password)."""
    return DataError(mask_text(message))


def _where(settings: Settings) -> str:
    return f" at {settings.endpoint}" if settings.endpoint else ""


def describe_error(exc: Exception, uri: str, settings: Settings) -> DataError:
    """A botocore failure as one actionable line (credential names only, never values)."""
    names = ", ".join(settings.names) or "no AWS variables set"
    if isinstance(exc, NoCredentialsError):
        return _error(
            f"no S3 credentials for {uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ACCESS_KEY and "
            "SECRET_KEY) in the environment"
        )
    if isinstance(exc, EndpointConnectionError):
        return _error(f"cannot reach the S3 endpoint for {uri}{_where(settings)}: {exc}; check AWS_ENDPOINT_URL")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
            return _error(
                f"access denied to {uri}{_where(settings)} (HTTP 403 {code}); the credentials from {names} may "
                "not read it (check the key pair and the bucket policy)"
            )
        if code in ("NoSuchBucket",):
            return _error(f"bucket of {uri} does not exist{_where(settings)}")
        return _error(f"S3 request for {uri} failed{_where(settings)}: HTTP {status} {code} {err.get('Message', '')}")
    if isinstance(exc, BotoCoreError):
        return _error(f"S3 request for {uri} failed{_where(settings)}: {exc}")
    return _error(f"S3 request for {uri} failed: {exc}")


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    etag: str
    size: int
    endpoint: str

    @property
    def identity(self) -> str:
        return f"s3|{self.endpoint}|{self.bucket}|{self.key}|{self.etag}|{self.size}"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class S3Bucket:
    """One bucket through one client; `head` and `fetch` raise DataError with a clear reason."""

    def __init__(self, bucket: str, settings: Settings | None = None) -> None:
        self.bucket = bucket
        self.settings = settings or settings_from_env()
        self._bucket_checked = False

    def head(self, key: str) -> ObjectInfo | None:
        """The object's identity, or None when the bucket exists but the key does not."""
        uri = f"s3://{self.bucket}/{key}"
        try:
            meta = client(self.settings).head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                self._check_bucket()  # a HEAD 404 does not say whether the key or the bucket is missing
                return None
            raise describe_error(exc, uri, self.settings) from None
        except BotoCoreError as exc:
            raise describe_error(exc, uri, self.settings) from None
        etag = str(meta.get("ETag", "")).strip('"')
        return ObjectInfo(self.bucket, key, etag, int(meta.get("ContentLength", 0)), self.settings.endpoint or "aws")

    def _check_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            client(self.settings).head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise _error(
                    f"bucket `{self.bucket}` does not exist{_where(self.settings)}; check the s3:// URI"
                ) from None
            if status != 403:  # 403: may not list the bucket, but it exists
                raise describe_error(exc, f"s3://{self.bucket}", self.settings) from None
        except BotoCoreError as exc:
            raise describe_error(exc, f"s3://{self.bucket}", self.settings) from None
        self._bucket_checked = True

    @staticmethod
    def cache_path(info: ObjectInfo, cache_root: Path) -> Path:
        """Where the object lives in the cache once fetched (one file per bucket, key, ETag and size)."""
        digest = hashlib.sha256(info.identity.encode()).hexdigest()[:24]
        return cache_root / "objects" / digest / (Path(info.key).name or "object")

    def fetch(self, info: ObjectInfo, cache_root: Path) -> Path:
        """The object as a local file in the cache, downloaded once per identity."""
        from boto3.s3.transfer import TransferConfig

        target = self.cache_path(info, cache_root)
        folder = target.parent
        if target.is_file() and target.stat().st_size == info.size:
            return target
        folder.mkdir(parents=True, exist_ok=True)
        with file_lock(folder / ".lock"):
            if target.is_file() and target.stat().st_size == info.size:
                return target
            tmp = folder / f".{target.name}.partial-{secrets.token_hex(3)}"
            try:
                client(self.settings).download_file(
                    info.bucket,
                    info.key,
                    str(tmp),
                    Callback=_Progress(info) if info.size >= PROGRESS_MIN_BYTES else None,
                    Config=TransferConfig(num_download_attempts=MAX_ATTEMPTS),
                )
                if tmp.stat().st_size != info.size:
                    raise _error(f"{info.uri}: downloaded {tmp.stat().st_size} bytes, expected {info.size}")
                os.replace(tmp, target)
            except (ClientError, BotoCoreError) as exc:
                raise describe_error(exc, info.uri, self.settings) from None
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        log.info("downloaded %s (%d bytes) into the cache", info.uri, info.size)
        return target


class _Progress:
    """boto3 calls this from its transfer threads with byte counts; log every 10 %."""

    def __init__(self, info: ObjectInfo) -> None:
        self.info = info
        self.done = 0
        self.next_tenth = 1
        self.lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self.lock:
            self.done += amount
            tenth = self.done * 10 // max(self.info.size, 1)
            if tenth < self.next_tenth:
                return
            self.next_tenth = tenth + 1
        log.info("downloading %s: %d%% of %.1f MiB", self.info.uri, tenth * 10, self.info.size / 2**20)
