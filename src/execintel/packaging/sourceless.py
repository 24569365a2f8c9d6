"""Third-party modules of a package as bytecode only, after ``compileall`` ran with the target interpreter.

Lambda unpacks a zip into a read-only folder, so Python can never cache the bytecode it compiles there: a package
without ``.pyc`` files compiles every module it imports at every cold start (about 3 s for the api here, against
0.7 s with bytecode). Shipping the bytecode beside the sources would push ``api.zip`` past its 15 MB target, so
the dependencies ship their bytecode *instead of* their sources, in the legacy sourceless layout (``mod.pyc`` where
``mod.py`` was), which the import system loads when no source is there. execintel itself keeps its sources (and
their bytecode in ``__pycache__``), so its tracebacks still show their lines; a dependency's frames show file and
line number only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

KEEP_SOURCE = frozenset({"execintel", "portfolio"})  # top-level names whose sources stay


def make_sourceless(root: Path, cache_tag: str) -> int:
    """Replace each ``X.py`` outside :data:`KEEP_SOURCE` that has ``__pycache__/X.<cache_tag>.pyc`` by that file as
    ``X.pyc``, and drop the emptied ``__pycache__`` folders; returns how many modules were converted."""
    converted = 0
    for source in sorted(root.rglob("*.py")):
        relative = source.relative_to(root)
        if relative.parts[0] in KEEP_SOURCE or source.is_symlink() or not source.is_file():
            continue
        compiled = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
        if not compiled.is_file():
            continue  # compileall skipped it (a template or a file of another Python): keep the source
        compiled.replace(source.with_suffix(".pyc"))
        source.unlink()
        converted += 1
    for cache in sorted(root.rglob("__pycache__"), reverse=True):
        if cache.relative_to(root).parts[0] not in KEEP_SOURCE and cache.is_dir():
            shutil.rmtree(cache)
    return converted
