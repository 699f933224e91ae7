#!/usr/bin/env bash
# Builds the CUDA kernels for the CPU emulation (csrc/cuda_emu) and runs them against the CPU
# kernels (tests/test_cuda_emu_*.py). Needs the dev environment (scripts/install.sh).
#   scripts/test_cuda_emu.sh [--sanitize address|undefined|thread] [pytest args...]
# Build folder: build-cuda-emu[-SANITIZER] (BUILD_DIR overrides); VENV as in install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
SAN=""
if [ "${1:-}" = "--sanitize" ]; then
  SAN=${2:?--sanitize needs address, undefined or thread}
  shift 2
fi
BUILD=${BUILD_DIR:-build-cuda-emu${SAN:+-$SAN}}
PY=$VENV/bin/python
[ -x "$PY" ] || { echo "no $PY: run scripts/install.sh first" >&2; exit 1; }
TORCH_PREFIX=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  -DCENTERNET_FAST_CUDA_EMU=ON -DCENTERNET_FAST_CUDA_EMU_SANITIZE="$SAN" \
  -DPython3_EXECUTABLE="$PY" > "$BUILD.cmake.log" 2>&1 || { cat "$BUILD.cmake.log"; exit 1; }
cmake --build "$BUILD" --target centernet_fast_cuda_emu -j "${MAX_JOBS:-2}"

CENTERNET_FAST_CUDA_EMU_LIB=$(cd "$BUILD" && pwd)/libcenternet_fast_cuda_emu.so
export CENTERNET_FAST_CUDA_EMU_LIB
export CENTERNET_FAST_REQUIRE_EXT=1
case "$SAN" in
  address)
    # Python is not instrumented, so the runtime must come first, with libstdc++ (its
    # exception interceptors bind at start-up); CPython's own allocations would otherwise be
    # reported as leaks at exit.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
    export LD_PRELOAD
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
    ;;
  undefined) export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ;;
  thread)
    LD_PRELOAD="$(gcc -print-file-name=libtsan.so) $(gcc -print-file-name=libstdc++.so)"
    export LD_PRELOAD
    # The CPU reference kernels' OpenMP threads synchronise inside uninstrumented libgomp.
    export OMP_NUM_THREADS=1
    export TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0
    ;;
esac
ARGS=()
if [ "$SAN" = thread ]; then
  # The self-test that leaves out a barrier on purpose is a race TSan rightly reports.
  ARGS+=(--deselect tests/test_cuda_emu_selftest.py::test_missing_barrier_changes_the_result_with_the_schedule)
fi
# --capture=sys: a sanitizer report, written to file descriptor 2 as the process stops, is shown.
exec "$PY" -m pytest -q -p no:cacheprovider --capture=sys tests/test_cuda_emu_selftest.py \
  tests/test_cuda_emu_targets_decode.py tests/test_cuda_emu_focal_deform.py ${ARGS[@]+"${ARGS[@]}"} "$@"
