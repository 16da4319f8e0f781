"""Typed errors, each mapped to one documented exit code."""

from __future__ import annotations


class OptikError(Exception):
    """Base class: an error with a one-line message meant for the user."""

    exit_code = 1


class CheckFailed(OptikError):
    """A check the user asked for (``--expect``, ``--min-score`` …) failed."""

    exit_code = 1


class UsageError(OptikError):
    """The command line cannot be carried out as given."""

    exit_code = 2


class SettingError(UsageError):
    """A task setting has a value the task cannot use. ``field`` names the setting as the Python API spells
    it (``top_k``, ``imgsz`` …); the CLI shows the matching flag instead (``--top-k``, ``--imgsz``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class InputError(OptikError):
    """One input cannot be read, decoded or processed."""

    exit_code = 3


class ModelUnavailable(OptikError):
    """A model is not embedded, not cached, cannot be fetched, or fails its checksum."""

    exit_code = 4


EXIT_OK = 0
EXIT_CHECK_FAILED = CheckFailed.exit_code
EXIT_USAGE = UsageError.exit_code
EXIT_INPUT_FAILED = InputError.exit_code
EXIT_MODEL_UNAVAILABLE = ModelUnavailable.exit_code
