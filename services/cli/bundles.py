"""Read BPMN/DMN files from disk into the core's SourceFile bundles."""

from __future__ import annotations

from pathlib import Path

from workflow.model import SourceFile

MAX_FILE_BYTES = 2 * 1024 * 1024


class BundleUnreadable(Exception):
    """A file named on the command line cannot be read."""


def read_source(path: Path) -> SourceFile:
    """Read one file, refusing missing, unreadable or oversized files with a clear message."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BundleUnreadable(f"{path}: file is {size} bytes; the limit is {MAX_FILE_BYTES}")
        return SourceFile(name=str(path), content=path.read_bytes())
    except OSError as error:
        raise BundleUnreadable(f"{path}: cannot read: {error.strerror or error}") from None


def bundle_for(bpmn_path: Path, extra: list[Path] | None = None) -> list[SourceFile]:
    """A BPMN file plus every DMN file beside it (decision tables it may reference)."""
    paths = [bpmn_path, *sorted(bpmn_path.parent.glob("*.dmn")), *(extra or [])]
    unique = list(dict.fromkeys(p.resolve() for p in paths))
    return [read_source(Path(_relative(p))) for p in unique]


def _relative(path: Path) -> str:
    """Show paths relative to the working directory where possible, as users typed them."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
