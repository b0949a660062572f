"""Files written whole or not at all: a reader (a resumed run, a grid's report from another
machine, a shard finishing at the same moment) never sees half a file.

Everything goes to a temporary file in the same folder, is flushed to disk, and replaces the
target with `os.replace` (atomic on POSIX and Windows). A failure leaves the previous file and no
temporary behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

__all__ = ["atomic_write_text", "replacing"]


@contextlib.contextmanager
def replacing(path: str, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside `path` to write to; on success it replaces `path`.

    `suffix` keeps the extension for writers that read it from the name (matplotlib's `savefig`).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` (UTF-8) to `path` whole or not at all."""
    with replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
