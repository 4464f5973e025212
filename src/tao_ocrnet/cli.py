# SPDX-License-Identifier: Apache-2.0
"""`ocrnet` command line: `ocrnet <action> -e spec.yaml [dotted.key=value ...]` and helper commands.

Heavy modules (torch, Lightning) are imported only by the command that needs them, so `ocrnet spec`,
`ocrnet skill` and `ocrnet jobs` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from tao_ocrnet.automl.cli import add_parser as add_automl_parser
from tao_ocrnet.data.synth.cli import add_synth_arguments, main_synth
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.cli import add_parser as add_jobs_parser
from tao_ocrnet.mcp.cli import add_parser as add_mcp_parser

log = logging.getLogger("tao_ocrnet")

# action -> "module:function" taking (action, spec_path, overrides, args) and returning an exit code.
SPEC_ACTIONS: dict[str, str] = {
    "dataset_convert": "tao_ocrnet.actions.dataset_convert:main",
    "train": "tao_ocrnet.actions.train:main",
    "evaluate": "tao_ocrnet.actions.evaluate:main",
    "inference": "tao_ocrnet.actions.inference:main",
    "export": "tao_ocrnet.actions.export:main",
    "prune": "tao_ocrnet.actions.prune:main",
    "quantize": "tao_ocrnet.actions.quantize:main",
    "gen_trt_engine": "tao_ocrnet.actions.gen_trt_engine:main",
}

# `ocrnet deploy <name>`: the skill's deploy actions (TensorRT engine, or ONNX file on ONNX Runtime).
DEPLOY_COMMANDS: dict[str, str] = {
    "evaluate": "tao_ocrnet.actions.deploy:evaluate_main",
    "inference": "tao_ocrnet.actions.deploy:inference_main",
}


def _load(target: str) -> Callable:
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def _add_spec_args(p: argparse.ArgumentParser, spec_required: bool = True) -> None:
    help_text = "spec YAML file" + ("" if spec_required else " (optional: the defaults, plus the overrides given)")
    p.add_argument("-e", "--experiment-spec", dest="spec", required=spec_required, help=help_text)
    p.add_argument("overrides", nargs="*", metavar="dotted.key=value", help="spec overrides (values are YAML)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocrnet", description="TAO OCRNet: scene text recognition on word crops.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for action in SPEC_ACTIONS:
        p = sub.add_parser(action, help=f"run {action} from a spec")
        _add_spec_args(p, spec_required=False)
        p.add_argument(
            "--allow-pickle",
            action="store_true",
            help="load pickled model files (TRUSTED files only: unpickling runs code)",
        )
        p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        p.set_defaults(handler=_run_action, action=action)

    deploy = sub.add_parser("deploy", help="evaluate or run a TensorRT engine (or an ONNX file on ONNX Runtime)")
    deploy_sub = deploy.add_subparsers(dest="deploy_command", required=True)
    for name, target in DEPLOY_COMMANDS.items():
        p = deploy_sub.add_parser(name, help=f"deploy {name} from a spec (evaluate.trt_engine / inference.trt_engine)")
        _add_spec_args(p)
        p.set_defaults(handler=lambda a, target=target: _load(target)(a))

    spec = sub.add_parser("spec", help="show, validate or render an action's spec")
    spec_sub = spec.add_subparsers(dest="spec_command", required=True)
    p = spec_sub.add_parser("show", help="print the action's spec template")
    p.add_argument("action")
    p.set_defaults(handler=_spec_show)
    for name, fn, text in (
        ("validate", _spec_validate, "validate a spec for an action"),
        ("render", _spec_render, "print the fully resolved spec"),
    ):
        p = spec_sub.add_parser(name, help=text)
        p.add_argument("action")
        _add_spec_args(p, spec_required=False)
        p.set_defaults(handler=fn)

    skill = sub.add_parser("skill", help="generate, check or package the skill")
    skill_sub = skill.add_subparsers(dest="skill_command", required=True)
    p = skill_sub.add_parser("generate", help="write every generated file (schemas, templates, SKILL.md, ...)")
    p.add_argument("--check", action="store_true", help="do not write; exit 1 and show a diff if anything drifted")
    p.set_defaults(handler=lambda a: _load("tao_ocrnet.skill.generate:main")(check=a.check))
    p = skill_sub.add_parser("package", help="write the skill in the skill-bank folder layout")
    p.add_argument("out")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the generated files of a folder that is not a previous package (other files are kept)",
    )
    p.set_defaults(handler=lambda a: _load("tao_ocrnet.skill.package:main")(a.out, a.overwrite))

    p = sub.add_parser("synth", help="render a synthetic word-crop dataset in the skill's data-source layout")
    add_synth_arguments(p)
    p.set_defaults(handler=_synth)

    p = sub.add_parser("demo", help="synth -> dataset_convert -> short train -> evaluate -> inference")
    p.add_argument("--out", default="demo_run", help="working folder")
    p.add_argument("--quick", action="store_true", help="a much shorter run (for CI)")
    p.set_defaults(handler=lambda a: _load("tao_ocrnet.actions.demo:main")(a))

    add_jobs_parser(sub)  # `ocrnet jobs ...`
    add_automl_parser(sub)  # `ocrnet automl ...`
    add_mcp_parser(sub)  # `ocrnet mcp ...`
    return parser


def _run_action(args: argparse.Namespace) -> int:
    return _load(SPEC_ACTIONS[args.action])(args)


def _synth(args: argparse.Namespace) -> int:
    summary = main_synth(args)
    print(json.dumps(summary, indent=2, default=str))
    return 0


# The spec commands import the spec models (pydantic) here, so that e.g. `ocrnet jobs list` starts without them.
def _spec_show(args: argparse.Namespace) -> int:
    from tao_ocrnet.config.templates import template_yaml

    sys.stdout.write(template_yaml(args.action))
    return 0


def _spec_validate(args: argparse.Namespace) -> int:
    from tao_ocrnet.config.loader import load_spec

    load_spec(args.action, args.spec, args.overrides)
    print(f"spec is valid for {args.action}")
    return 0


def _spec_render(args: argparse.Namespace) -> int:
    from tao_ocrnet.config.loader import load_spec, spec_to_yaml

    sys.stdout.write(spec_to_yaml(load_spec(args.action, args.spec, args.overrides, check_required=False)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse binds `overrides` together with the ACTION positional, so in `ocrnet spec validate
        # ACTION -e f.yaml k=v` the overrides after `-e` come back unparsed: they are still overrides.
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # basicConfig is a no-op when a host (pytest, a notebook) already configured logging.
    logging.getLogger("tao_ocrnet").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return code
    except UserError as exc:
        print(f"ocrnet {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ocrnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`ocrnet jobs list | head -1`): end quietly, as a tool killed by SIGPIPE
        # would. Output still buffered goes to devnull, so the flush at exit raises nothing either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
