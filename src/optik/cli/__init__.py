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
    "ocr": ("optik.cli.ocr:ocr", "Read the text in images; plain text, boxes, redaction, CI checks."),
    "embed": ("optik.cli.embed:embed", "Image embeddings into an index for similar and dedupe."),
    "similar": ("optik.cli.similar:similar", "Search an index by example image: nearest images, contact sheets."),
    "dedupe": ("optik.cli.dedupe:dedupe", "Group exact and near duplicates, keep one of each; move or delete."),
    "faces": ("optik.cli.faces:faces", "Enroll people, identify and cluster faces (local face database)."),
    "compare": ("optik.cli.compare:compare", "Compare with golden images: SSIM, PSNR, pixel diffs, heat maps."),
    "check": ("optik.cli.check:check", "Quality gates: size, blur, exposure, noise, format, duplicates."),
    "train": ("optik.cli.train:train", "Train a classifier for your own classes (transfer learning)."),
    "anomaly": ("optik.cli.anomaly:anomaly", "Fit on normal images, then flag and locate anomalies (maps)."),
    "models": ("optik.cli.models:models", "List, inspect, pull and verify models."),
}


class ReaderGone(Exception):
    """stdout's reader closed it."""


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, _, attribute = _COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        """An unknown command is a usage error with suggestions (``optik clasify`` → classify)."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in _COMMANDS:
            import difflib

            close = difflib.get_close_matches(name, list(_COMMANDS), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            ctx.fail(f"no command {name!r}{hint}; see `optik --help`")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        """A closed stdout (``optik … | head``) passes click, which would make it ``sys.exit(1)``, to
        :func:`~optik.cli.common.run_cli`: the reader has what it wanted, exit 0."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise ReaderGone from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in _COMMANDS.items()])


EPILOG = """Exit codes: 0 all good; 1 a check asked for failed; 2 usage error; 3 some inputs failed
(the rest were processed); 4 a model is not available or fails its checksum."""


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="optik")
def main() -> None:
    """Pretrained deep-learning image models for the shell."""
