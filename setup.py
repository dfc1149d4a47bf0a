"""Build step the pyproject metadata cannot say: the wheel carries the run-time files.

Templates, static files, migrations, data and the translations (compiled to .mo here)
live at the checkout's root; an installed package finds them in app/_share
(app/config.py: PROJECT_ROOT). An editable install reads the checkout itself.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHARED = ("templates", "static", "migrations", "data")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")


class BuildWithShare(build_py):
    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:  # no module deleted since the last build may linger in the wheel
            shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()
        if editable:
            return
        target = Path(self.build_lib) / "app" / "_share"
        shutil.rmtree(target, ignore_errors=True)
        for name in SHARED:
            shutil.copytree(ROOT / name, target / name, ignore=SKIP)
        self._compile_catalogs(target / "translations")

    def _compile_catalogs(self, target: Path) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted((ROOT / "translations").glob("*/LC_MESSAGES/*.po")):
            mo = target / po.relative_to(ROOT / "translations").with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            with mo.open("wb") as out:
                write_mo(out, catalog)


setup(cmdclass={"build_py": BuildWithShare})
