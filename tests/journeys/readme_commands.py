"""The commands the README tells a user to run: every line of its ```bash blocks (continuations
joined, comments and `export` lines dropped, `pip install ... &&` prefixes split off) and every
inline `python ...` / `keras-resnet-paper-train ...` code span."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).parents[2] / "README.md"
_INLINE = re.compile(r"`((?:python|keras-resnet-paper-train) [^`]+)`")


def _bash_lines(text: str) -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith(("#", "export ")):
                lines.append(" ".join(line.split()))
    return lines


def readme_commands(text: str | None = None) -> list[str]:
    """Each documented command once, in README order (`pip install` steps excluded: .ci/run
    installs the package exactly so)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for line in _bash_lines(text) + [" ".join(m.split()) for m in _INLINE.findall(text)]:
        for part in (p.strip() for p in line.split("&&")):
            if part and not part.startswith("pip install") and part not in found:
                found.append(part)
    return found
