#!/usr/bin/env bash
# README command 1: install what is needed, build, and start ganesha with the
# ZEROFS FSAL on the embedded default (a local-directory store) on 127.0.0.1.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
bash scripts/setup.sh
cmake -S "$src" -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

plugin=build/fsal_zerofs/libfsalzerofs.so
if [ ! -f "$plugin" ]; then
  cat >&2 <<MSG

The build succeeded (object-store layer and its tests), but this tree does not
yet contain the ZEROFS FSAL (libfsalzerofs.so), so there is no server to start.
It arrives with the FSAL work; until then, run the tests: bash scripts/test.sh
MSG
  exit 3
fi
