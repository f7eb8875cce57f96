"""`wkl`, the command line: thin commands over the public API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import WebknossosLikeError


def _cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(args.dir)


def _cmd_info(args: argparse.Namespace) -> None:
    from .dataset import Dataset

    dataset = Dataset.open(args.path, read_only=True)
    print(f"{dataset.name}: voxel size {dataset.voxel_size} {dataset.voxel_size_unit}")
    for layer in dataset.layers.values():
        box = layer.bounding_box
        print(
            f"  {layer.name} ({layer.category}, {layer.data_format}, {layer.num_channels}x{layer.dtype}) "
            f"bbox {box.topleft.to_tuple()} + {box.size.to_tuple()}"
        )
        for mag, view in layer.mags.items():
            info = view.info
            print(
                f"    mag {mag.to_layer_name()}: chunk {info.chunk_shape.x}, shard {info.shard_shape.x}, "
                f"{'compressed' if info.compressed else 'raw'}"
            )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `wkl` (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="wkl", description="Work with WKW and precomputed volumes."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="Build the sample dataset and check it.")
    demo.add_argument("dir", nargs="?", default="demo_output/sample_dataset", help="Output folder.")
    demo.set_defaults(func=_cmd_demo)
    info = commands.add_parser("info", help="Show layers, mags and bounding boxes of a dataset.")
    info.add_argument("path", help="Dataset folder.")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user mistakes print one line and exit 1, no traceback."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except WebknossosLikeError as exc:
        print(f"wkl: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
