# SPDX-License-Identifier: Apache-2.0
"""Generated runners: `runners/<action>.py`, one per job action, rendered from skill_info.

A runner runs one job folder: it executes the action's skill_info `command` on the job's spec with the
installed tao_ocrnet package, streams the output into the job log, writes `.runner/exit.json` when the
command ends and records the exit (code and KPIs) in the job record. The body is the same for every action;
the constants at the top come from the action's skill_info entry. Each job keeps a copy of the runner it ran.
"""

from __future__ import annotations

import hashlib
import json

from tao_ocrnet.config.render import GENERATED_BY
from tao_ocrnet.jobs.catalog import JobAction, job_actions

RUNNER_DIR = "runners"

_DOC = '''#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# {generated}
"""Runner for tao-ocrnet `{action}` jobs ({skill} {version}).

Generated from {source}, `actions.{entry}`.

Usage: python {action}.py JOB_DIR

Runs `{command}` on JOB_DIR/spec.yaml with the installed tao_ocrnet package (`ocrnet` is
`python -m tao_ocrnet` of this interpreter), streams the output into JOB_DIR/job.log, writes
JOB_DIR/.runner/exit.json when the command ends, then records the exit code and the KPIs of the action's
status.json in the job record. SIGTERM (ocrnet jobs cancel) reaches the whole process group; the exit is then
recorded as CANCELED. When launch.json names `key_env`, encryption_key is read from that environment variable
into a private copy of the spec (mode 0600, removed afterwards) and masked in the log.
"""
'''

_BODY = '''
from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

#CONSTANTS#
MASK = b"*****"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _say(text: str) -> None:
    print(f"[runner {_now()}] {text}", flush=True)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _argv(config_path: str) -> list[str]:
    words = shlex.split(COMMAND.replace("{config_path}", shlex.quote(config_path)))
    if words[0] == "ocrnet":
        words = [sys.executable, "-m", "tao_ocrnet", *words[1:]]
    return words


def _config(job_dir: Path, launch: dict, state: Path) -> tuple[Path, str | None]:
    """The spec to run; with a key_env, a private copy holding encryption_key from the environment."""
    spec = job_dir / launch["config"]
    name = launch.get("key_env")
    if not name:
        return spec, None
    secret = os.environ.get(name, "")
    if not secret:
        raise RuntimeError(f"environment variable {name} (encryption_key) is not set for the job")
    import yaml

    tree = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    tree["encryption_key"] = secret
    private = state / "spec.secret.yaml"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(tree, fh, sort_keys=False)
    return private, secret


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: python {Path(argv[0]).name} JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[1]).resolve()
    launch = json.loads((job_dir / "launch.json").read_text(encoding="utf-8"))
    state = job_dir / ".runner"
    state.mkdir(exist_ok=True)
    started = _now()
    if MODE != "config" or CONFIG_FORMAT != "yaml":
        print(f"this runner runs config-mode YAML commands, not {MODE}/{CONFIG_FORMAT}", file=sys.stderr)
        return 2
    received: list[int] = []
    running: dict[str, subprocess.Popen] = {}

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        child = running.get("child")
        if child is not None and child.poll() is None:
            child.send_signal(signum)  # the child may not be in the signalled group

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # detached: a closing terminal is not a cancel
    code: int | None = None
    error = None
    private = None
    try:
        config, secret = _config(job_dir, launch, state)
        private = config if secret else None
        command = _argv(str(config))
        _say(f"job {launch['job_id']} ({ACTION}): {' '.join(shlex.quote(w) for w in command)}")
        child = subprocess.Popen(
            command,
            cwd=job_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        running["child"] = child
        assert child.stdout is not None
        for line in iter(child.stdout.readline, b""):
            if secret:
                line = line.replace(secret.encode(), MASK)
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        code = child.wait()
    except Exception as exc:  # the runner's own failure is the job's failure, with its reason
        error = f"the runner failed: {type(exc).__name__}: {exc}"
        _say(error)
        code = code if code is not None else 1
    finally:
        if private is not None:
            private.unlink(missing_ok=True)
    canceled = bool(received) or (state / "cancel").exists()
    _write_json(
        state / "exit.json",
        {
            "job_id": launch["job_id"],
            "action": ACTION,
            "exit_code": code,
            "signal": -code if code is not None and code < 0 else None,
            "canceled": canceled,
            "error": error,
            "started_at": started,
            "finished_at": _now(),
        },
    )
    _say(f"the command ended with exit code {code}" + (" (canceled)" if canceled else ""))
    try:
        from tao_ocrnet.jobs.hooks import record_exit

        record = record_exit(job_dir)
        metric = record.get("kpis", {}).get(METRIC) if METRIC else None
        shown = f" ({METRIC} {metric})" if metric is not None else ""
        _say(f"job record: {record['transitions'][-1]['state']}{shown}")
    except Exception as exc:
        _say(f"could not update the job record ({exc}); reading the job reconciles it from exit.json")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''


def _literal(value: object) -> str:
    # JSON strings are Python string literals in the double-quoted style `ruff format` keeps.
    return "None" if value is None else json.dumps(value)


def _constants(action: JobAction) -> str:
    entry = action.entry
    values = {
        "ACTION": action.name,
        "COMMAND": entry["command"],
        "CONFIG_FORMAT": entry.get("config_format"),
        "MODE": entry.get("mode"),
        "METRIC": entry.get("metric"),
    }
    return "".join(f"{name} = {_literal(value)}\n" for name, value in values.items())


def render_runner(action: JobAction) -> str:
    from tao_ocrnet.jobs import skill_info as md

    skill = md.DEPLOY_NAME if action.skill_file == "deploy_skill_info" else md.SKILL_NAME
    entry = {"trt_evaluate": "evaluate", "trt_inference": "inference"}.get(action.name, action.name)
    doc = _DOC.format(
        generated=GENERATED_BY,
        action=action.name,
        source="skill_info.yaml" if skill == md.SKILL_NAME else f"{md.REFERENCES}/{md.DEPLOY_NAME}.skill_info.yaml",
        entry=entry,
        skill=skill,
        version=md.SKILL_VERSION,
        command=action.command,
    )
    return doc + _BODY.replace("#CONSTANTS#\n", _constants(action) + "\n")


def runner_files() -> dict[str, str]:
    return {f"{RUNNER_DIR}/{name}.py": render_runner(action) for name, action in job_actions().items()}


def runner_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
