"""The repository explains itself: no tracked file points at a document or folder outside it,
and every relative link in its Markdown leads to a file that is tracked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import ROOT

# Written in pieces so that this file does not find itself.
OUTSIDE = [
    ".." + "/shared",
    "/" + "work/",
    "shared" + "/SPEC",
    "SPEC" + ".md",
    "DESIGN" + ".md",
    "STYLE" + ".md",
    "SPEC" + ' "',  # a section of a contract document this repository does not hold
]
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AssertionError("the tests run in a git checkout of the repository") from exc
    return [name for name in out.decode().split("\0") if name]


def text_of(name: str) -> str | None:
    path = Path(ROOT) / name
    if not path.is_file():  # deleted in the work tree, not yet in the index
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # binary


def test_no_tracked_file_points_outside_the_repository() -> None:
    found = []
    for name in tracked():
        text = text_of(name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            found += [f"{name}:{number}: {needle!r}" for needle in OUTSIDE if needle in line]
    assert not found, "\n".join(found)


def test_relative_markdown_links_lead_to_tracked_files() -> None:
    files = set(tracked())
    broken = []
    for name in sorted(f for f in files if f.endswith(".md")):
        text = text_of(name) or ""
        for target in MD_LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            path = target.split("#", 1)[0]
            resolved = (Path(name).parent / path).as_posix()
            normal = str(Path(resolved)).replace("\\", "/")
            parts: list[str] = []
            for part in normal.split("/"):
                if part == "..":
                    if not parts:
                        broken.append(f"{name}: {target} (leaves the repository)")
                        break
                    parts.pop()
                elif part not in ("", "."):
                    parts.append(part)
            else:
                joined = "/".join(parts)
                if joined not in files and not any(f.startswith(joined + "/") for f in files):
                    broken.append(f"{name}: {target}")
    assert not broken, "\n".join(broken)
