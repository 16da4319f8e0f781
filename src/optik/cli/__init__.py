"""The ``optik`` command: a thin click layer over the task functions.

Subcommands are imported only when run, so ``optik --help`` and ``--version`` never load torch.
"""

from __future__ import annotations

import importlib

import click

from optik import __version__

_COMMANDS = {  # name: (module:attribute, one-line help)
    "classify": ("optik.cli.classify:classify", "Label images with ImageNet classes (CI checks: --expect)."),
    "detect": ("optik.cli.detect:detect", "Find COCO objects and faces; boxes, crops, redaction, CI checks."),
    "segment": ("optik.cli.segment:segment", "Remove backgrounds, mask people, classical segmentation."),
    "enhance": ("optik.cli.enhance:enhance", "Upscale and restore with Real-ESRGAN, or classical enhancement."),
    "style": ("optik.cli.style:style", "Neural style transfer: 26 learned styles, any painting, filters."),
    "models": ("optik.cli.models:models", "List, inspect, pull and verify models."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, _, attribute = _COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in _COMMANDS.items()])


EPILOG = """Exit codes: 0 all good; 1 a check asked for failed; 2 usage error; 3 some inputs failed
(the rest were processed); 4 a model is not available or fails its checksum."""


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="optik")
def main() -> None:
    """Pretrained deep-learning image models for the shell."""
