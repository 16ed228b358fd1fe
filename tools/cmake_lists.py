"""Keep CMakeLists.txt file lists equal to the files on disk.

Slicer's packaging installs only the files a CMakeLists.txt names; an unlisted file is silently left out.
Each package folder (the core ``NetZeroAICT/``, each module folder) has a CMakeLists.txt whose
``set(<NAME>_SCRIPTS …)`` / ``set(<NAME>_RESOURCES …)`` blocks name every file.

    python tools/cmake_lists.py          # rewrite the generated blocks from disk
    python tools/cmake_lists.py --check  # exit 1 and list differences

Generated blocks sit between ``# BEGIN GENERATED <SCRIPTS|RESOURCES>`` and ``# END GENERATED`` lines.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: File types that must be packaged.
PACKAGED_SUFFIXES = (".py", ".ui", ".png", ".json", ".safetensors", ".svg", ".html", ".yaml", ".css")
#: Folders whose CMakeLists.txt must list every packaged file beneath them.
PACKAGE_FOLDERS = ("NetZeroAICT", "DigitalContrast", "ReaderStudy", "Resources")
SKIP_PARTS = {"__pycache__", ".pytest_cache"}

_BLOCK = re.compile(r"(# BEGIN GENERATED (\w+)\n)(.*?)(\s*# END GENERATED)", re.S)
_TOKEN = re.compile(r"[\w./${}-]+\.(?:" + "|".join(s[1:] for s in PACKAGED_SUFFIXES) + r")\b")


def files_on_disk(folder: Path) -> list[str]:
    """Packaged files under ``folder``, relative to it, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.suffix in PACKAGED_SUFFIXES and not SKIP_PARTS & set(p.parts))


def listed_files(cmakelists: Path) -> list[str]:
    """File names the CMakeLists.txt mentions (``${MODULE_NAME}`` expanded), relative to its folder."""
    text = re.sub(r"#[^\n]*", "", cmakelists.read_text())
    variables = dict(re.findall(r"set\(\s*(\w+)\s+\"?([\w.-]+)\"?\s*\)", text))
    names = set()
    for token in _TOKEN.findall(text):
        for key, value in variables.items():
            token = token.replace("${" + key + "}", value)
        if "${" not in token:
            names.add(token)
    return sorted(names)


def differences(folder: Path) -> tuple[list[str], list[str]]:
    """(files on disk but not listed, files listed but not on disk) for one package folder."""
    disk, listed = set(files_on_disk(folder)), set(listed_files(folder / "CMakeLists.txt"))
    return sorted(disk - listed), sorted(listed - disk)


def _sync(folder: Path) -> bool:
    path = folder / "CMakeLists.txt"
    text = path.read_text()
    files = files_on_disk(folder)

    def block(match):
        kind = match.group(2)
        chosen = [f for f in files if (f.endswith(".py") == (kind == "SCRIPTS"))]
        body = "".join(f"  {f}\n" for f in chosen)
        return match.group(1) + body + match.group(4).lstrip("\n").rjust(len(match.group(4).lstrip("\n")))

    new = _BLOCK.sub(block, text)
    if new != text:
        path.write_text(new)
    return new != text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    status = 0
    for name in PACKAGE_FOLDERS:
        folder = ROOT / name
        if not (folder / "CMakeLists.txt").exists():
            continue
        if not args.check:
            _sync(folder)
        missing, extra = differences(folder)
        for f in missing:
            print(f"{name}/CMakeLists.txt does not list {name}/{f}")
        for f in extra:
            print(f"{name}/CMakeLists.txt lists {name}/{f}, which does not exist")
        status |= bool(missing or extra)
    return status


if __name__ == "__main__":
    sys.exit(main())
