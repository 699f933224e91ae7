#!/usr/bin/env bash
# The check of a lent GPU machine in one command: build with CUDA, run the CUDA tests and the
# CUDA benchmarks, and write the results, the report, the environment and a summary of every
# step to OUT_DIR. Such a machine has no network and is lent for minutes, so every step has a
# timeout cut to what is left of one wall-clock budget, a failed step does not stop the ones
# after it, and the summary is written whatever happens. See usage() or --help.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ARGS="$*"

usage() {
    cat <<'EOF'
usage: scripts/gpu_check.sh [options] OUT_DIR
       scripts/gpu_check.sh --fetch-wheels [DIR]

Builds centernet_fast in place (pip install --no-build-isolation -e ., with FORCE_CUDA=1 when
torch sees a GPU), then runs the parts asked for and writes to OUT_DIR (new or empty):
  summary.txt   one line per step: status, exit code, seconds, note; the last line the result
  env.txt       GPU, driver, nvcc, torch, CUDA, cuDNN, Python, commit, sources fingerprint
  steps.log     output of the wheels, build, kernels, benchmark and report steps
  tests.log     the CUDA tests (pytest -k cuda over tests/); tests.xml their JUnit XML
  NAME-ops.json     the op benchmarks on CUDA with the machine rates (pytest-benchmark JSON)
  NAME-models.json  the model benchmarks on CUDA with the machine rates (-ARCHS with --archs)
  NAME.md       benchmarks/report.py --out of each JSON, one after the other
That is at most 8 files, as many as the device tool brings back from $OUT.
Without a GPU the CUDA steps are skipped (and say so) unless --rehearse is given.

Options:
  --part LIST      comma-separated parts: tests, ops, models, all (default all); the wheels,
                   build, kernels, env and report steps always run
  --budget SEC     wall-clock limit of the whole check (default 480): each step's timeout is
                   cut to what is left, so a hang cannot outlast it; steps left without time
                   are marked failed, not run
  --name NAME      prefix of the result files (default: the GPU's name, e.g. h200, or cpu;
                   -rehearsal added under --rehearse); letters, digits, '.', '_' and '-'
  --archs LIST     models to benchmark (CENTERNET_FAST_BENCH_MODEL_ARCHS; default
                   dla_34,resdcn_18); names the models JSON NAME-models-ARCHS.json
  --no-compile     model benchmarks without their torch.compile rows (MODEL_COMPILE=0)
  --tests-k EXPR   the tests' pytest -k selection (default cuda: every CUDA case)
  --wheels DIR     wheels installed first into a private folder on PYTHONPATH (default .whl):
                   pycocotools, which the device machine lacks
  --reuse-build    skip the build when the package in place already loads (with every op's
                   CUDA kernel where there is a GPU): a second call on a still-warm machine
  --rehearse       every step on a tiny subset, on the CPU when there is no GPU (minutes on
                   2 cores): proves the script, measures nothing worth keeping
  --fetch-wheels [DIR]
                   download the wheels into DIR (default .whl) for the device machine's
                   Python 3.12 on x86-64 and for this Python; needs the network, so run it
                   where the check is prepared, then carry DIR
  -h, --help       this text

Environment: PYTHON (default .venv/bin/python when present, else python3),
TORCH_CUDA_ARCH_LIST (default 9.0), MAX_JOBS (default: every core), GPU_CHECK_COMMIT (the
commit to record where the tree came without .git), GPU_CHECK_TIMEOUT_{BUILD,TESTS,OPS,MODELS}
(seconds per step before the budget cuts them; default 300, 240, 300, 480). Other
CENTERNET_FAST_BENCH_* settings (benchmarks/bench_models.py) pass through to the benchmarks.

Exit status: 0 when no step failed (skipped steps do not fail), 1 otherwise, 2 on bad usage.
EOF
}

die_usage() {
    echo "gpu_check: $1" >&2
    echo "try: scripts/gpu_check.sh --help" >&2
    exit 2
}

if [[ -n ${PYTHON:-} ]]; then
    :
elif [[ -x .venv/bin/python ]]; then
    PYTHON=.venv/bin/python
else
    PYTHON=python3
fi

# The only wheel the device machine's image lacks (KINDS.md lists what it holds).
FETCH_PACKAGES=(pycocotools)

fetch_wheels() {
    local dir=$1 pkg spec version here
    mkdir -p "$dir"
    here=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    for pkg in "${FETCH_PACKAGES[@]}"; do
        # The version installed here is the one the tests pass with; else the newest.
        version=$("$PYTHON" -c "import importlib.metadata as m; print(m.version('$pkg'))" \
            2>/dev/null || true)
        spec=$pkg${version:+==$version}
        for py in 3.12 "$here"; do
            "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$py" \
                --implementation cp --platform manylinux_2_28_x86_64 \
                --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
                --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$dir" "$spec"
        done
    done
    if ! git check-ignore -q "$dir" 2>/dev/null; then
        echo "note: $dir is not ignored by git; ignore it (it travels through carry, not commits)"
    fi
    ls -l "$dir"
    echo "carry it: run(carry=[\"$dir\"], ...), then scripts/gpu_check.sh --wheels $dir"
}

PARTS=all BUDGET=480 NAME="" ARCHS="" NO_COMPILE=0 WHEELS=.whl REUSE_BUILD=0 REHEARSE=0
TESTS_K=""
OUT_DIR=""
while (($#)); do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --fetch-wheels)
            fetch_wheels "${2:-.whl}"
            exit 0 ;;
        --part) (($# > 1)) || die_usage "--part needs a value"; PARTS=$2; shift ;;
        --budget) (($# > 1)) || die_usage "--budget needs a value"; BUDGET=$2; shift ;;
        --name) (($# > 1)) || die_usage "--name needs a value"; NAME=$2; shift ;;
        --archs) (($# > 1)) || die_usage "--archs needs a value"; ARCHS=$2; shift ;;
        --wheels) (($# > 1)) || die_usage "--wheels needs a value"; WHEELS=$2; shift ;;
        --tests-k) (($# > 1)) || die_usage "--tests-k needs a value"; TESTS_K=$2; shift ;;
        --no-compile) NO_COMPILE=1 ;;
        --reuse-build) REUSE_BUILD=1 ;;
        --rehearse) REHEARSE=1 ;;
        -*) die_usage "unknown option $1" ;;
        *) [[ -z $OUT_DIR ]] || die_usage "one OUT_DIR only"; OUT_DIR=$1 ;;
    esac
    shift
done

[[ -n $OUT_DIR ]] || die_usage "OUT_DIR is missing"
[[ $BUDGET =~ ^[0-9]+$ ]] || die_usage "--budget takes whole seconds"
for var in GPU_CHECK_TIMEOUT_BUILD GPU_CHECK_TIMEOUT_TESTS GPU_CHECK_TIMEOUT_OPS \
    GPU_CHECK_TIMEOUT_MODELS; do
    [[ ${!var:-0} =~ ^[0-9]+$ ]] || die_usage "$var takes whole seconds"
done
[[ -z $NAME || $NAME =~ ^[A-Za-z0-9._-]+$ ]] || die_usage "--name: letters, digits, . _ - only"
[[ -z $ARCHS || $ARCHS =~ ^[A-Za-z0-9_,]+$ ]] || die_usage "--archs: comma-separated names"
WANT_TESTS=0 WANT_OPS=0 WANT_MODELS=0
IFS=, read -r -a part_list <<<"$PARTS"
for part in "${part_list[@]}"; do
    case $part in
        all) WANT_TESTS=1 WANT_OPS=1 WANT_MODELS=1 ;;
        tests) WANT_TESTS=1 ;;
        ops) WANT_OPS=1 ;;
        models) WANT_MODELS=1 ;;
        *) die_usage "--part: unknown part '$part' (tests, ops, models, all)" ;;
    esac
done
if [[ -d $OUT_DIR ]] && [[ -n $(ls -A "$OUT_DIR") ]]; then
    die_usage "$OUT_DIR is not empty: results of two checks would mix"
fi
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

export PYTHONUNBUFFERED=1
SUMMARY=$OUT_DIR/summary.txt
STEPS_LOG=$OUT_DIR/steps.log
DEADLINE=$((SECONDS + BUDGET))
RESERVE=30  # seconds kept back for the report and the summary after the last long step
FAILED=0
: >"$STEPS_LOG"
SITE=${TMPDIR:-/tmp}/centernet_fast-gpu-check-site

{
    printf '# scripts/gpu_check.sh %s\n' "$ARGS"
    printf '# options: part=%s budget=%ss rehearse=%s archs=%s no_compile=%s reuse_build=%s' \
        "$PARTS" "$BUDGET" "$REHEARSE" "${ARCHS:-default}" "$NO_COMPILE" "$REUSE_BUILD"
    printf ' tests_k=%s\n' "${TESTS_K:-default}"
    printf '%-8s %-8s %4s %7s  %s\n' step status rc seconds note
} >"$SUMMARY"

say() { printf '[gpu_check %4ds] %s\n' "$((SECONDS))" "$*"; }

# record STEP STATUS RC SECONDS NOTE: one summary line; a failed status fails the check.
record() {
    printf '%-8s %-8s %4s %7s  %s\n' "$1" "$2" "$3" "$4" "$5" >>"$SUMMARY"
    say "$1: $2${5:+ ($5)}"
    if [[ $2 == failed ]]; then FAILED=$((FAILED + 1)); fi
}

# step_limit DEFAULT: the step's timeout, cut to the budget left (0: no time left).
step_limit() {
    local left=$((DEADLINE - SECONDS - RESERVE))
    if ((left < 10)); then echo 0; elif (($1 < left)); then echo "$1"; else echo "$left"; fi
}

# run_step STEP DEFAULT_TIMEOUT LOG TEE CMD...: runs CMD under its timeout, appending its output
# to LOG (and to stdout with TEE=1); sets STEP_RC and STEP_SECONDS. SIGINT first, so that
# pytest ends its session and writes the JSON and XML of what finished; KILL 30 s later for a
# process stuck in a kernel or a driver call.
run_step() {
    local step=$1 limit log=$3 tee=$4 start=$SECONDS
    limit=$(step_limit "$2")
    shift 4
    STEP_RC=0 STEP_SECONDS=0
    if ((limit == 0)); then
        STEP_RC=125
        return 0
    fi
    printf '\n===== %s (timeout %ss): %s\n' "$step" "$limit" "$*" >>"$log"
    say "$step: started, timeout ${limit}s"
    if ((tee)); then
        timeout --foreground -s INT -k 30 "$limit" "$@" 2>&1 | tee -a "$log" || STEP_RC=$?
    else
        timeout --foreground -s INT -k 30 "$limit" "$@" >>"$log" 2>&1 || STEP_RC=$?
    fi
    STEP_SECONDS=$((SECONDS - start))
}

# finish_step STEP NOTE: records the last run_step's outcome.
finish_step() {
    local note=$2
    case $STEP_RC in
        0) record "$1" ok 0 "$STEP_SECONDS" "$note" ;;
        125) record "$1" failed - 0 "not run: the ${BUDGET}s budget is spent" ;;
        124 | 137) record "$1" failed "$STEP_RC" "$STEP_SECONDS" \
            "timed out after ${STEP_SECONDS}s${note:+; $note}" ;;
        *) record "$1" failed "$STEP_RC" "$STEP_SECONDS" "$note" ;;
    esac
}

# quiet CMD...: a short probe's stdout, empty when it fails or hangs.
quiet() { timeout -k 5 60 "$@" 2>/dev/null || true; }

# ---- gpu: what torch sees, and what the driver sees
say "python: $PYTHON; out: $OUT_DIR; budget ${BUDGET}s"
probe=$(quiet "$PYTHON" -c 'import torch
cuda = torch.cuda.is_available()
print(int(cuda), torch.cuda.get_device_name() if cuda else "", sep="\t")' | tail -n 1)
HAVE_GPU=${probe%%$'\t'*}
GPU_NAME=${probe#*$'\t'}
SMI_GPU=$(quiet nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
if [[ $HAVE_GPU == 1 ]]; then
    record gpu ok 0 0 "$GPU_NAME"
elif [[ -z $probe ]]; then
    HAVE_GPU=0
    record gpu failed - 0 "$PYTHON could not import torch"
elif [[ -n $SMI_GPU ]]; then
    record gpu failed - 0 "nvidia-smi lists $SMI_GPU but torch.cuda.is_available() is False"
else
    record gpu skipped - 0 "no GPU: torch.cuda.is_available() is False"
fi
[[ $HAVE_GPU == 1 ]] || HAVE_GPU=0
if [[ $HAVE_GPU == 1 ]]; then DEV=cuda; else DEV=cpu; fi
# The CUDA steps run with a GPU, or on the CPU's tiny subset under --rehearse.
RUN_DEVICE_STEPS=$((HAVE_GPU == 1 || REHEARSE == 1 ? 1 : 0))
if [[ -z $NAME ]]; then
    if [[ $HAVE_GPU == 1 ]]; then
        # "NVIDIA H100 80GB HBM3" -> h100-80gb-hbm3
        NAME=$(tr '[:upper:]' '[:lower:]' <<<"$GPU_NAME" | sed -e 's/^nvidia //' \
            -e 's/[^a-z0-9._]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')
    else
        NAME=cpu
    fi
    NAME=${NAME:-gpu}
    # A rehearsal's numbers are not results: its name says so.
    if ((REHEARSE)); then NAME=$NAME-rehearsal; fi
fi

# ---- env: the machine and the sources the results belong to
{
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "run_name: $NAME"
    commit=$(quiet git rev-parse HEAD)
    if [[ -n $commit ]]; then
        changed=$(quiet git status --porcelain --untracked-files=no | wc -l)
        echo "commit: $commit ($changed tracked files changed)"
    else
        echo "commit: ${GPU_CHECK_COMMIT:-unknown} (no git here: GPU_CHECK_COMMIT)"
    fi
    # Ties the results to the sources where the tree travelled without .git.
    echo "sources_sha256: $(find centernet_fast csrc setup.py pyproject.toml -type f \
        \( -name '*.py' -o -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \
        -o -name '*.toml' \) ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum | sha256sum | cut -c1-16)"
    echo "host: $(uname -srm), $(nproc) cores"
    smi=$(quiet nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit \
        --format=csv,noheader)
    echo "nvidia_smi: ${smi:-none}"
    nvcc_version=$(quiet nvcc --version | tail -n 1)
    echo "nvcc: ${nvcc_version:-none}"
    echo "TORCH_CUDA_ARCH_LIST: ${TORCH_CUDA_ARCH_LIST:-9.0 (default)}"
    quiet "$PYTHON" - <<'EOF'
import importlib.metadata as md
import sys

import torch

print("python:", sys.version.split()[0], sys.executable)
print("torch:", torch.__version__, "| torch CUDA:", torch.version.cuda,
      "| cuDNN:", torch.backends.cudnn.version(), "| threads:", torch.get_num_threads())
for name in ("torchvision", "triton", "numpy", "pytest", "pytest-benchmark"):
    try:
        print(f"{name}: {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name}: not installed")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"gpu: {p.name}, sm_{p.major}{p.minor}, {p.multi_processor_count} SMs, "
          f"{p.total_memory / 2**30:.1f} GiB")
EOF
} >"$OUT_DIR/env.txt" 2>&1 || true
record env ok 0 0 "env.txt"
cat "$OUT_DIR/env.txt"

# ---- wheels: what the device machine lacks, into a private folder on PYTHONPATH
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
shopt -u nullglob
if ((${#wheels[@]})); then
    # By name, so that pip picks the wheel that fits this Python among those carried.
    names=$(for w in "${wheels[@]}"; do basename "$w" | cut -d- -f1; done | sort -u | tr '\n' ' ')
    rm -rf "$SITE"
    # shellcheck disable=SC2086  # names: one word per distribution
    run_step wheels 120 "$STEPS_LOG" 0 "$PYTHON" -m pip install -q --no-index --no-deps \
        --no-compile --no-cache-dir --upgrade --target "$SITE" --find-links "$WHEELS" $names
    export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
    finish_step wheels "$names-> $SITE"
elif [[ -n $(quiet "$PYTHON" -c 'import pycocotools; print(1)') ]]; then
    record wheels ok 0 0 "none in $WHEELS; pycocotools is installed"
else
    record wheels failed - 0 "no wheels in $WHEELS and no pycocotools: run scripts/gpu_check.sh \
--fetch-wheels where there is a network, and carry .whl"
fi

# ---- build: the package in place, with CUDA where there is a GPU
# REQUIRE_EXT: the import fails, rather than falling back to the reference ops, when the
# library is missing or does not load.
kernels_cmd=(env CENTERNET_FAST_REQUIRE_EXT=1 "$PYTHON" -m centernet_fast.cli info)
if [[ $HAVE_GPU == 1 ]]; then kernels_cmd+=(--require-cuda); fi
# A build to reuse is one that loads and is newer than every source it was built from.
reusable() {
    local lib
    lib=$(find centernet_fast -maxdepth 1 -name '_C*.so' | head -n 1)
    [[ -n $lib ]] && [[ -z $(find csrc setup.py -type f -newer "$lib" | head -n 1) ]] &&
        timeout -k 5 120 "${kernels_cmd[@]}" >/dev/null 2>&1
}
if ((REUSE_BUILD)) && reusable; then
    record build skipped - 0 "--reuse-build: the library in place loads and is up to date"
else
    build_env=(MAX_JOBS="${MAX_JOBS:-$(nproc)}")
    if [[ $HAVE_GPU == 1 ]]; then
        build_env+=(FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}")
    fi
    # --no-index: nothing can be fetched there, and pip's retries would only spend the budget;
    # the dependencies are installed, or carried in WHEELS.
    run_step build "${GPU_CHECK_TIMEOUT_BUILD:-300}" "$STEPS_LOG" 0 env "${build_env[@]}" \
        "$PYTHON" -m pip install -v --no-build-isolation --no-index --find-links "$WHEELS" -e .
    built=$(grep -o 'centernet_fast: building [A-Za-z ]* kernels' "$STEPS_LOG" | tail -n 1 || true)
    finish_step build "${built#centernet_fast: }"
    if ((STEP_RC != 0)); then tail -n 40 "$STEPS_LOG"; fi
fi

# ---- kernels: every op registered, with its CUDA kernel where there is a GPU
run_step kernels 120 "$STEPS_LOG" 0 "${kernels_cmd[@]}"
finish_step kernels "centernet_fast.cli info${kernels_cmd[6]:+ ${kernels_cmd[6]}}"

# ---- tests: the CUDA cases (each compares CUDA with the CPU kernels or the reference)
if [[ -n $TESTS_K ]]; then
    :
elif ((REHEARSE)); then
    TESTS_K="cuda and (extension or identical or event_clock)"
else
    TESTS_K=cuda
fi
skip_note="no GPU (torch.cuda.is_available() is False); --rehearse runs the CPU subset"
if ((!WANT_TESTS)); then
    record tests skipped - 0 "not in --part"
elif ((!RUN_DEVICE_STEPS)); then
    record tests skipped - 0 "$skip_note"
else
    # REQUIRE_EXT: a package built without its ops fails the tests instead of skipping them.
    run_step tests "${GPU_CHECK_TIMEOUT_TESTS:-240}" "$OUT_DIR/tests.log" 1 \
        env CENTERNET_FAST_REQUIRE_EXT=1 "$PYTHON" -m pytest tests -q -rs -p no:cacheprovider \
        -k "$TESTS_K" -o faulthandler_timeout=120 \
        --junitxml "$OUT_DIR/tests.xml"
    counts=$(quiet "$PYTHON" - "$OUT_DIR/tests.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
t, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
print(f"{t - f - e - s} passed, {f} failed, {e} errors, {s} skipped")
EOF
)
    finish_step tests "-k '$TESTS_K': ${counts:-no tests.xml}"
fi

# A pytest plugin for the benchmark steps. On the timeout's SIGINT pytest still ends its session
# and pytest-benchmark writes its JSON, but with the benchmark that was cut short in it: with
# the rounds it had, or with none, and then pytest-benchmark fails on the empty statistics and
# writes nothing at all. Before it saves, the plugin keeps only the benchmarks whose test passed.
PLUGIN_DIR=$(mktemp -d)
trap 'rm -rf "$PLUGIN_DIR"' EXIT
cat >"$PLUGIN_DIR/gpu_check_finished_benchmarks.py" <<'EOF'
import pytest

PASSED = set()


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        PASSED.add(report.nodeid)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    bench_session = getattr(session.config, "_benchmarksession", None)
    if bench_session is not None:
        cut = [b for b in bench_session.benchmarks if b.fullname not in PASSED]
        bench_session.benchmarks[:] = [b for b in bench_session.benchmarks if b not in cut]
        if cut:
            print(f"\ngpu_check: dropped {len(cut)} unfinished benchmarks:",
                  ", ".join(b.fullname for b in cut))
    yield
EOF

# bench STEP FILE K DEFAULT_TIMEOUT [VAR=VALUE...]: one pytest-benchmark run into OUT_DIR/FILE.
# The machine's rates first: a run that the timeout cuts short keeps the floors of what it did.
BENCH_FILES=(benchmarks/bench_machine.py)
for f in benchmarks/bench_*.py; do
    if [[ $f != benchmarks/bench_machine.py ]]; then BENCH_FILES+=("$f"); fi
done
JSONS=()
bench() {
    local step=$1 json=$OUT_DIR/$2 k=$3 limit=$4 count dropped lines
    shift 4
    lines=$(wc -l <"$STEPS_LOG")
    run_step "$step" "$limit" "$STEPS_LOG" 1 env "$@" \
        PYTHONPATH="$PLUGIN_DIR${PYTHONPATH:+:$PYTHONPATH}" \
        "$PYTHON" -m pytest "${BENCH_FILES[@]}" -q -rs -p no:cacheprovider \
        -p gpu_check_finished_benchmarks -k "$k" -o faulthandler_timeout=300 \
        --benchmark-json "$json"
    if [[ -f $json ]]; then
        JSONS+=("$json")
        count=$(quiet "$PYTHON" -c \
            'import json, sys; print(len(json.load(open(sys.argv[1]))["benchmarks"]))' "$json")
        dropped=$(tail -n +$((lines + 1)) "$STEPS_LOG" | grep -o 'gpu_check: dropped [0-9]*' |
            cut -d' ' -f3 || true)
        finish_step "$step" \
            "$(basename "$json"): ${count:-?} benchmarks${dropped:+, $dropped unfinished dropped}"
    else
        finish_step "$step" "no $(basename "$json") written"
    fi
}

# ---- ops: the op benchmarks and the machine's rates, which their floors divide by
if ((!WANT_OPS)); then
    record ops skipped - 0 "not in --part"
elif ((!RUN_DEVICE_STEPS)); then
    record ops skipped - 0 "$skip_note"
elif ((REHEARSE)); then
    bench ops "$NAME-ops.json" "$DEV and (test_machine or $DEV-1-fused or $DEV-1-read_floor)" \
        "${GPU_CHECK_TIMEOUT_OPS:-300}"
else
    bench ops "$NAME-ops.json" "cuda and not test_model" "${GPU_CHECK_TIMEOUT_OPS:-300}"
fi

# ---- models: the end-to-end model benchmarks, with the machine's rates again
model_env=()
models_json=$NAME-models.json
if [[ -n $ARCHS ]]; then
    model_env+=(CENTERNET_FAST_BENCH_MODEL_ARCHS="$ARCHS")
    models_json=$NAME-models-${ARCHS//,/-}.json
fi
if ((NO_COMPILE)); then model_env+=(CENTERNET_FAST_BENCH_MODEL_COMPILE=0); fi
if ((!WANT_MODELS)); then
    record models skipped - 0 "not in --part"
elif ((!RUN_DEVICE_STEPS)); then
    record models skipped - 0 "$skip_note"
elif ((REHEARSE)); then
    # One small model, one precision, one round: the same code path in seconds.
    bench models "$models_json" "$DEV and (test_machine or (test_model and latency))" \
        "${GPU_CHECK_TIMEOUT_MODELS:-480}" CENTERNET_FAST_BENCH_MODEL_ARCHS="${ARCHS:-resdcn_18}" \
        CENTERNET_FAST_BENCH_MODEL_SIZE=64 CENTERNET_FAST_BENCH_MODEL_PRECISIONS=float32 \
        CENTERNET_FAST_BENCH_MODEL_COMPILE=0 CENTERNET_FAST_BENCH_MODEL_ROUNDS=1
else
    bench models "$models_json" "cuda and (test_machine or test_model)" \
        "${GPU_CHECK_TIMEOUT_MODELS:-480}" "${model_env[@]}"
fi

# ---- report: benchmarks/report.py's tables of every JSON written, in one file
if ((${#JSONS[@]} == 0)); then
    record report skipped - 0 "no benchmark JSON in this run"
else
    report_md=$OUT_DIR/$NAME.md
    report_tmp=$(mktemp)
    report_rc=0 start=$SECONDS
    : >"$report_md"
    for json in "${JSONS[@]}"; do
        # Not cut to the budget: the reserve is kept for this.
        printf '\n===== report %s\n' "$json" >>"$STEPS_LOG"
        if timeout -k 5 60 "$PYTHON" benchmarks/report.py "$json" --out "$report_tmp" \
            >>"$STEPS_LOG" 2>&1; then
            {
                printf '# Run %s\n\n' "$(basename "$json" .json)"
                cat "$report_tmp"
                echo
            } >>"$report_md"
        else
            report_rc=1
        fi
    done
    rm -f "$report_tmp"
    if ((report_rc)); then
        record report failed 1 $((SECONDS - start)) "benchmarks/report.py failed: steps.log"
    else
        record report ok 0 $((SECONDS - start)) "$(basename "$report_md")"
    fi
fi

# ---- summary
files=$(find "$OUT_DIR" -type f | wc -l)
if ((files > 8)); then
    record files failed - 0 "$files files in $OUT_DIR: the device tool brings back 8"
fi
if ((FAILED)); then result="failed ($FAILED steps)"; else result=ok; fi
printf 'result: %s, %ss of %ss\n' "$result" "$SECONDS" "$BUDGET" >>"$SUMMARY"
echo
cat "$SUMMARY"
((FAILED == 0))
