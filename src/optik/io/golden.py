"""The output stage of ``optik compare``: for each pair that fails, the heat map and the new | golden | diff sheet
below ``-o DIR`` (``NAME.diff.png``, ``NAME.sheet.png``, mirroring the inputs), and with ``--update`` the new
image's bytes over the golden file (or as the first golden file of an added image). Passing pairs are left
alone; a removed pair's golden file is never deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optik.io.inputs import read_regular_file
from optik.io.outputs import OutputPlan, write_atomic, write_output
from optik.io.pairs import PairItem


class CompareStage:
    """Called with each pair's result on the pipeline's worker threads; sets ``result.output`` (the heat map),
    ``sheet_path`` and ``updated`` to what it wrote."""

    def __init__(self, images: OutputPlan | None = None, update: bool = False):
        self.images, self.update = images, update

    def __call__(self, item: PairItem, result: Any) -> None:
        if result.passed:
            return
        if self.images is not None and result.measures is not None:
            base = self.images.path_for(item)
            result.output = write_output(self.images, item, base.with_name(f"{base.stem}.diff.png"), result.render())
            sheet = base.with_name(f"{base.stem}.sheet.png")
            result.sheet_path = write_output(self.images, item, sheet, result.sheet())
        if self.update and item.new is not None:
            write_atomic(Path(item.counterpart), read_regular_file(item.source))
            result.updated = item.counterpart

    def close(self) -> None:
        """Nothing is written at the end."""
