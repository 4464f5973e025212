# SPDX-License-Identifier: Apache-2.0
"""Resource subscriptions for job views: `notifications/resources/updated` when a job's state changes.

Handshake-era clients subscribe with `resources/subscribe` (the notification goes to their session);
2026-07-28 clients open a `subscriptions/listen` stream naming the URIs (the SDK's listen handler delivers
what is published on the bus). Either way a background task started with the server polls the jobs
behind the watched `ocrnet://jobs/{job_id}/...` URIs and notifies every watcher of a job whose state,
message, progress or KPIs changed. Other URIs may be subscribed to as well; the skill's files never change,
so they are never notified.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated

from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.mcp.resources import parse_job_uri

log = logging.getLogger("tao_ocrnet.mcp")

POLL_SECONDS = 1.0

Context = ServerRequestContext[Any]


class JobWatch:
    def __init__(self, service: Callable[[], JobService], poll_seconds: float = POLL_SECONDS) -> None:
        self._service = service
        self._poll_seconds = poll_seconds
        self.bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self.bus)
        self._sessions: dict[str, set[Any]] = {}  # uri -> handshake-era sessions subscribed to it
        self._streams: dict[str, int] = {}  # uri -> open 2026-07-28 listen streams naming it
        self._seen: dict[str, str] = {}  # job id -> fingerprint of its last notified view

    # --- handlers ------------------------------------------------------------------------------

    async def subscribe(self, ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
        uri = str(params.uri)
        await self._baseline(uri)
        self._sessions.setdefault(uri, set()).add(ctx.session)
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        uri = str(params.uri)
        sessions = self._sessions.get(uri, set())
        sessions.discard(ctx.session)
        if not sessions:
            self._sessions.pop(uri, None)
        return types.EmptyResult()

    async def listen(self, ctx: Context, params: types.SubscriptionsListenRequestParams) -> Any:
        uris = list(params.notifications.resource_subscriptions or ())
        for uri in uris:
            await self._baseline(uri)
            self._streams[uri] = self._streams.get(uri, 0) + 1
        try:
            return await self._listen(ctx, params)
        finally:
            for uri in uris:
                self._streams[uri] -= 1
                if not self._streams[uri]:
                    del self._streams[uri]

    # --- polling -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, _server: Any) -> AsyncIterator[dict[str, Any]]:
        """The server's lifespan: the poller runs while the server does."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._poll_forever)
            try:
                yield {}
            finally:
                self._listen.close()
                tg.cancel_scope.cancel()

    async def _poll_forever(self) -> None:
        while True:
            await anyio.sleep(self._poll_seconds)
            try:
                await self.poll()
            except Exception:  # one bad poll must not end notifications for good
                log.exception("job subscription poll failed")

    def _watched(self) -> dict[str, list[str]]:
        """Job id -> the watched URIs that are views of it."""
        jobs: dict[str, list[str]] = {}
        for uri in {*self._sessions, *self._streams}:
            try:
                parsed = parse_job_uri(uri)
            except UserError:
                continue
            if parsed is not None:
                jobs.setdefault(parsed[0], []).append(uri)
        return jobs

    async def poll(self) -> None:
        for job_id, uris in self._watched().items():
            fingerprint = await anyio.to_thread.run_sync(self._fingerprint, job_id)
            if fingerprint is None or self._seen.get(job_id) == fingerprint:
                continue
            self._seen[job_id] = fingerprint
            for uri in uris:
                await self._notify(uri)

    def _fingerprint(self, job_id: str) -> str | None:
        service = self._service()
        try:
            view = service.view(service.refresh(service.get(job_id)))
        except UserError:
            return None  # removed since: nothing to report
        keep = {k: view.get(k) for k in ("state", "message", "progress", "kpis", "exit_code")}
        return json.dumps(keep, sort_keys=True, default=str)

    async def _baseline(self, uri: str) -> None:
        try:
            parsed = parse_job_uri(uri)
        except UserError:
            return
        if parsed is not None and parsed[0] not in self._seen:
            fingerprint = await anyio.to_thread.run_sync(self._fingerprint, parsed[0])
            if fingerprint is not None:
                self._seen[parsed[0]] = fingerprint

    async def _notify(self, uri: str) -> None:
        for session in list(self._sessions.get(uri, ())):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # the session ended: forget it
                self._sessions.get(uri, set()).discard(session)
        if uri in self._streams:
            await self.bus.publish(ResourceUpdated(uri=uri))
