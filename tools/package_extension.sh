#!/usr/bin/env bash
# Build the installable Slicer package (.tar.gz / .zip) of this extension without a Slicer build.
#
#   tools/package_extension.sh [--worktree] SLICER_SOURCE [OUTPUT_DIR]
#
# SLICER_SOURCE: a checkout of Slicer's source that has Utilities/Scripts/package_python_extension.py
#   (it generates a stand-in Slicer build tree from Slicer's CMake/ folders, then runs cmake, the build and cpack).
# OUTPUT_DIR: where the package goes (default: build/package in this repository).
# --worktree: package the working tree as it is; by default a fresh clone of the committed HEAD is packaged,
#   so uncommitted edits and untracked files never reach the package.
# Environment: CMAKE = the cmake executable (default: cmake on PATH; needs CMake >= 3.31, e.g. the `cmake` wheel
#   from PyPI in its own venv); PYTHON = the Python that runs Slicer's script (default python3);
#   SLICER_REVISION = the Slicer revision written into the package name (default: the script's own detection).
# Prints the package's path as the last line of its output. Nothing of Slicer is copied into this repository;
# the build happens in a temporary folder that is deleted afterwards.
set -euo pipefail

log() { echo "package_extension: $*" >&2; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

worktree=0
if [ "${1:-}" = "--worktree" ]; then worktree=1; shift; fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
slicer_src="$(cd "$1" 2>/dev/null && pwd)" || { log "Slicer source folder not found: $1"; exit 2; }
output_dir="${2:-$repo/build/package}"
script="$slicer_src/Utilities/Scripts/package_python_extension.py"
if [ ! -f "$script" ]; then
    log "$script is missing: SLICER_SOURCE must be a Slicer source tree that has this script"
    log "(in Slicer/Slicer it came with pull request #9118, 'ENH: Add script to package native Python extensions')"
    exit 2
fi

cmake="${CMAKE:-$(command -v cmake || true)}"
[ -n "$cmake" ] && [ -x "$cmake" ] || { log "cmake not found: put CMake >= 3.31 on PATH or set CMAKE"; exit 2; }
version="$("$cmake" --version | sed -n 's/^cmake version \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')"
if ! printf '3.31\n%s\n' "$version" | sort -V -C; then
    log "$cmake is CMake $version; Slicer's packaging script needs >= 3.31 (pip install 'cmake>=3.31' in a venv)"
    exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/netzeroaict-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ "$worktree" = 1 ]; then
    source_dir="$repo"
else
    git clone --quiet "$repo" "$work/NetZeroAICT"
    source_dir="$work/NetZeroAICT"
fi

revision_args=()
if [ -n "${SLICER_REVISION:-}" ]; then revision_args=(--slicer-revision "$SLICER_REVISION"); fi
mkdir -p "$output_dir"
"${PYTHON:-python3}" "$script" \
    --ext-src "$source_dir" \
    --slicer-src "$slicer_src" \
    --cmake "$cmake" \
    --dummy-build "$work/SlicerDummyBuild" \
    --build-dir "$work/build" \
    --install-prefix "$work/install" \
    --output-dir "$work/out" \
    "${revision_args[@]}" \
    --cmake-arg -DBUILD_TESTING=OFF >&2

shopt -s nullglob
packages=("$work"/out/*NetZeroAICT*.tar.gz "$work"/out/*NetZeroAICT*.zip)
[ ${#packages[@]} -eq 1 ] || { log "expected one package in $work/out, found ${#packages[@]}"; exit 1; }
cp "${packages[0]}" "$output_dir/"
log "package written:"
echo "$output_dir/$(basename "${packages[0]}")"
