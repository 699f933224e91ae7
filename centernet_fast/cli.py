"""The ``centernet-fast`` command line.

Subcommands:
    info    Print the build: versions, whether the compiled ops are loaded, and which backends
            each op has kernels for. ``--require-cuda`` exits non-zero unless every op has a CUDA
            kernel (used by CI to prove the GPU build).
    data    ``data synthetic --out DIR`` writes the built-in synthetic COCO dataset;
            ``data voc2coco XML... --out JSON`` converts Pascal-VOC annotations.
"""

import argparse
import json
import sys

import torch

import centernet_fast
from centernet_fast.data.commands import add_data_commands
from centernet_fast.engine.eval_commands import add_eval_commands
from centernet_fast.engine.train_commands import add_train_commands
from centernet_fast.ops import extension_available

OP_NAMESPACE = "centernet_fast"


def registered_ops():
    """Names of every op in the centernet_fast library (empty when the extension is missing)."""
    return sorted(schema.name.split("::", 1)[1] for schema in torch._C._jit_get_all_schemas()
                  if schema.name.startswith(OP_NAMESPACE + "::"))


def kernel_backends(op: str):
    """Dispatch keys among CPU/CUDA that have a kernel registered for ``centernet_fast::op``."""
    return [key for key in ("CPU", "CUDA")
            if torch._C._dispatch_has_kernel_for_dispatch_key(f"{OP_NAMESPACE}::{op}", key)]


def build_info():
    ops = registered_ops()
    return {
        "centernet_fast": centernet_fast.__version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "extension_available": extension_available(),
        "ops": {op: kernel_backends(op) for op in ops},
    }


def _info(args) -> int:
    info = build_info()
    print(json.dumps(info, indent=2))
    if args.require_cuda:
        missing = [op for op, keys in info["ops"].items() if "CUDA" not in keys]
        if not info["ops"] or missing:
            print(f"error: ops without a CUDA kernel: {missing or 'no ops registered'}",
                  file=sys.stderr)
            return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``centernet-fast`` argument parser with every command."""
    parser = argparse.ArgumentParser(prog="centernet-fast", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print build and kernel registration information")
    info.add_argument("--require-cuda", action="store_true",
                      help="fail unless every op has a CUDA kernel registered")
    info.set_defaults(func=_info)
    add_data_commands(sub)
    add_eval_commands(sub)
    add_train_commands(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
