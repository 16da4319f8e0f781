"""Only what pyproject.toml cannot say: the embedded weights in ``models/`` go into the wheel as
``optik/models/`` (package data), so an installed optik finds them without the source checkout."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path(__file__).resolve().parent / "models"


class BuildWithModels(build_py):
    """``build_py`` that also copies ``models/*.safetensors``, their cards and licence texts into the package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "optik" / "models"
        target.mkdir(parents=True, exist_ok=True)
        for path in (
            sorted(MODELS.glob("*.safetensors")) + sorted(MODELS.glob("*.md")) + sorted(MODELS.glob("LICENSE*"))
        ):
            self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildWithModels})
