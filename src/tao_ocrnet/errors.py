# SPDX-License-Identifier: Apache-2.0
"""User-facing errors: the CLI prints them as one line and exits 2; tools return them as isError."""


class UserError(Exception):
    """Bad input the user can fix (spec, paths, data). Never shown with a traceback."""

    exit_code = 2


class SpecError(UserError):
    """The spec (file, overrides or values) does not validate. Holds every problem found."""

    def __init__(self, problems: list[str], header: str = "the spec is not valid"):
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{header}:\n{body}" if body else header)


class DataError(UserError):
    """A dataset, image, gt file or character list cannot be used."""


class ModelFileError(UserError):
    """A checkpoint, ONNX file or engine is missing, mismatched or not a model."""


class DependencyError(UserError):
    """A package or device the request needs (tensorrt, a GPU, nvidia-modelopt) is not available here."""
