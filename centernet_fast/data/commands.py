"""``centernet-fast data ...``: the data subcommands of the command line.

    data synthetic --out DIR                          write the built-in synthetic dataset
    data voc2coco XML... --out JSON [--images DIR]    convert Pascal-VOC XML files to COCO
"""

import argparse
import glob
import inspect
import json
import logging
import os

from centernet_fast.data.synthetic import write_synthetic_coco
from centernet_fast.data.voc import DIFFICULT_MODES, voc_to_coco

_SYNTHETIC_DEFAULTS = {name: p.default for name, p in
                       inspect.signature(write_synthetic_coco).parameters.items()}


def _log_to_terminal() -> None:
    # Skipped annotations are reported through logging.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")


def _synthetic(args) -> int:
    _log_to_terminal()
    splits = write_synthetic_coco(args.out, args.num_train, args.num_val, args.image_size,
                                  args.seed, objects=(args.min_objects, args.max_objects),
                                  min_size=args.min_size, max_size=args.max_size,
                                  image_format=args.format)
    print(json.dumps({split: s._asdict() for split, s in splits.items()}, indent=2))
    return 0


def _voc2coco(args) -> int:
    _log_to_terminal()
    files = []
    for item in args.xml:
        files += sorted(glob.glob(os.path.join(item, "*.xml"))) if os.path.isdir(item) else [item]
    data = voc_to_coco(files, args.images, args.categories, args.out,
                       one_based=not args.zero_based, difficult=args.difficult)
    print(f"{args.out}: {len(data['images'])} images, {len(data['annotations'])} boxes, "
          f"categories {[c['name'] for c in data['categories']]}")
    return 0


def add_data_commands(subparsers) -> None:
    """Adds the ``data`` command and its subcommands to an argparse subparsers object."""
    data = subparsers.add_parser("data", help="make or convert datasets")
    sub = data.add_subparsers(dest="data_command", required=True)

    d = _SYNTHETIC_DEFAULTS
    syn = sub.add_parser("synthetic", help="write the built-in synthetic COCO dataset",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    syn.add_argument("--out", required=True, help="dataset folder")
    syn.add_argument("--num-train", type=int, default=d["num_train"], help="training images")
    syn.add_argument("--num-val", type=int, default=d["num_val"], help="validation images")
    syn.add_argument("--image-size", type=int, default=d["image_size"],
                     help="square image side in pixels")
    syn.add_argument("--seed", type=int, default=d["seed"], help="dataset seed")
    syn.add_argument("--min-objects", type=int, default=d["objects"][0], help="fewest per image")
    syn.add_argument("--max-objects", type=int, default=d["objects"][1], help="most per image")
    syn.add_argument("--min-size", type=int, default=d["min_size"],
                     help="smallest box side in pixels")
    syn.add_argument("--max-size", type=int, default=d["max_size"],
                     help="largest box side in pixels (None: a third of the image)")
    syn.add_argument("--format", choices=("jpg", "png"), default=d["image_format"],
                     help="image file format")
    syn.set_defaults(func=_synthetic)

    voc = sub.add_parser("voc2coco", help="convert Pascal-VOC XML files to one COCO JSON")
    voc.add_argument("xml", nargs="+", help="XML files, or folders of them")
    voc.add_argument("--out", required=True, help="the COCO JSON to write")
    voc.add_argument("--images", default=None,
                     help="images folder (finds each image and reads its size)")
    voc.add_argument("--categories", nargs="+", default=None,
                     help="class names in id order (default: the sorted names found)")
    voc.add_argument("--zero-based", action="store_true",
                     help="coordinates are 0-based continuous, not VOC's 1-based pixels")
    voc.add_argument("--difficult", choices=DIFFICULT_MODES, default="keep")
    voc.set_defaults(func=_voc2coco)
