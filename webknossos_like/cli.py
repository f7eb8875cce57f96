"""`wkl`, the command line: thin commands over the public API."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from .errors import InvalidArgumentError, WebknossosLikeError

_FORMATS = {
    "wkw": "wkw",
    "zarr3": "zarr3",
    "precomputed": "neuroglancerPrecomputed",
    "neuroglancerPrecomputed": "neuroglancerPrecomputed",
    "neuroglancer_precomputed": "neuroglancerPrecomputed",
}


@contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Executor | None]:
    """The executor the options ask for: none (sequential), threads, processes or Dask."""
    from . import parallel

    if getattr(args, "dask", None):
        yield parallel.dask(args.dask)
        return
    jobs = getattr(args, "jobs", 1)
    if jobs <= 1:
        yield None
        return
    pool = parallel.processes(jobs) if args.executor == "processes" else parallel.threads(jobs)
    with pool:
        yield pool


def _open(path: str, read_only: bool) -> Any:
    from .dataset import Dataset

    return Dataset.open(path, read_only=read_only)


def _cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(args.dir)


def _cmd_info(args: argparse.Namespace) -> None:
    from .notebook.html import format_bytes, layer_disk_size

    dataset = _open(args.path, read_only=True)
    print(
        f"{dataset.name}: voxel size {dataset.voxel_size} {dataset.voxel_size_unit}  ({dataset.location})"
    )
    for layer in dataset.layers.values():
        box = layer.bounding_box
        stored = layer_disk_size(layer)
        size = "" if stored is None else f", {format_bytes(stored)} on disk"
        print(
            f"  {layer.name}: {layer.category}, {layer.data_format}, {layer.num_channels}x{layer.dtype}, "
            f"bbox {box.topleft.to_tuple()} + {box.size.to_tuple()}{size}"
        )
        for mag, view in layer.mags.items():
            try:
                info = view.info
            except WebknossosLikeError as exc:
                print(f"    mag {mag.to_layer_name()}: unreadable ({exc})")
                continue
            print(
                f"    mag {mag.to_layer_name()}: chunk {info.chunk_shape.to_tuple()}, "
                f"shard {info.shard_shape.to_tuple()}, {'compressed' if info.compressed else 'raw'}"
            )


def _cmd_convert(args: argparse.Namespace) -> None:
    source = _open(args.source, read_only=True)
    with _executor(args) as executor:
        target = source.copy_dataset(
            args.target,
            data_format=_FORMATS[args.format],
            chunk_shape=args.chunk_shape,
            compress=args.compress,
            layers_to_ignore=args.ignore_layer,
            executor=executor,
        )
    print(f"Converted {len(target.layers)} layer(s) to {target.location} ({args.format}).")


def _layers(dataset: Any, names: list[str] | None) -> list[Any]:
    return [dataset.get_layer(name) for name in names] if names else list(dataset.layers.values())


def _cmd_downsample(args: argparse.Namespace) -> None:
    dataset = _open(args.path, read_only=False)
    with _executor(args) as executor:
        for layer in _layers(dataset, args.layer):
            created = layer.downsample(
                coarsest_mag=args.coarsest_mag,
                interpolation_mode=args.interpolation,
                sampling_mode=args.sampling,
                executor=executor,
            )
            names = ", ".join(m.mag.to_layer_name() for m in created) or "nothing new"
            print(f"{layer.name}: {names}")


def _cmd_compress(args: argparse.Namespace) -> None:
    dataset = _open(args.path, read_only=False)
    with _executor(args) as executor:
        for layer in _layers(dataset, args.layer):
            if not layer._format.compresses_in_place:
                print(
                    f"{layer.name}: skipped ({layer.data_format} layers choose compression per mag at creation)"
                )
                continue
            for view in layer.mags.values():
                view.compress(executor=executor)
            print(f"{layer.name}: compressed {len(layer.mags)} mag(s)")


def _cmd_check(args: argparse.Namespace) -> None:
    from .ops.check import check_dataset_readable, compare_datasets

    source = _open(args.source, read_only=True)
    with _executor(args) as executor:
        if args.other is None:
            boxes = check_dataset_readable(source, executor=executor)
            print(f"OK: {boxes} stored region(s) of {source.location} read without error.")
            return
        differences = compare_datasets(source, _open(args.other, read_only=True), executor=executor)
    if differences:
        for line in differences:
            print(f"DIFFERENT: {line}")
        raise _CheckFailed(
            f"{len(differences)} difference(s) between {args.source} and {args.other}."
        )
    print(f"EQUAL: {args.source} and {args.other} hold the same layers, mags and voxels.")


class _CheckFailed(WebknossosLikeError):
    """`wkl check` found differences (exit status 1)."""


def _add_parallel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs", "-j", type=int, default=1, help="Parallel workers (default 1: sequential)."
    )
    parser.add_argument(
        "--executor",
        choices=("threads", "processes"),
        default="threads",
        help="Worker kind for --jobs > 1.",
    )
    parser.add_argument(
        "--dask", metavar="ADDRESS", help="Run on a Dask distributed scheduler instead."
    )


def _cmd_serve(args: argparse.Namespace) -> None:
    from .serve.commands import run_serve

    run_serve(args)


def _cmd_view(args: argparse.Namespace) -> None:
    from .serve.commands import run_view

    run_view(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `wkl` (exposed for tests and docs)."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="wkl", description="Work with WKW and precomputed volumes."
    )
    parser.add_argument("--version", action="version", version=f"wkl {__version__}")
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default=None,
        help="Progress bars (default: $WKL_PROGRESS, else auto: when interactive).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="Build the sample dataset, its pyramid and a precomputed copy; check them."
    )
    demo.add_argument(
        "dir", nargs="?", default="demo_output", help="Output folder (default: demo_output)."
    )
    demo.set_defaults(func=_cmd_demo)

    info = commands.add_parser(
        "info", help="Show layers, mags, bounding boxes, dtypes and on-disk size."
    )
    info.add_argument("path", help="Dataset folder, precomputed folder or URL.")
    info.set_defaults(func=_cmd_info)
    from .serve.commands import add_arguments as _add_serve_arguments

    serve = commands.add_parser(
        "serve", help="Serve every layer as Neuroglancer precomputed over HTTP (read-only)."
    )
    _add_serve_arguments(serve, viewer=False)
    serve.set_defaults(func=_cmd_serve)
    view = commands.add_parser(
        "view", help="Serve the dataset and the Neuroglancer viewer; print the viewer URL."
    )
    _add_serve_arguments(view, viewer=True)
    view.set_defaults(func=_cmd_view)

    convert = commands.add_parser(
        "convert", help="Copy a dataset, converting between WKW, Zarr v3 and precomputed."
    )
    convert.add_argument("source", help="Dataset folder, precomputed folder or URL.")
    convert.add_argument("target", help="New dataset folder.")
    convert.add_argument(
        "--format", choices=sorted(_FORMATS), required=True, help="Target data format."
    )
    convert.add_argument(
        "--chunk-shape", type=int, default=None, help="Chunk edge of the target mags."
    )
    convert.add_argument(
        "--compress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Compress the target (default: like the source).",
    )
    convert.add_argument(
        "--ignore-layer", action="append", default=None, help="A layer to leave out (repeatable)."
    )
    _add_parallel_options(convert)
    convert.set_defaults(func=_cmd_convert)

    downsample = commands.add_parser(
        "downsample", help="Build the magnification pyramid of layers."
    )
    downsample.add_argument("path", help="Dataset folder.")
    downsample.add_argument(
        "--layer", action="append", default=None, help="Only this layer (repeatable)."
    )
    downsample.add_argument(
        "--coarsest-mag", default=None, help="e.g. 8 or 16-16-8 (default: from the layer size)."
    )
    downsample.add_argument(
        "--interpolation", default="default", help="average, median, mode, nearest, max, min."
    )
    downsample.add_argument(
        "--sampling", default="anisotropic", help="anisotropic, isotropic or constant_z."
    )
    _add_parallel_options(downsample)
    downsample.set_defaults(func=_cmd_downsample)

    compress = commands.add_parser(
        "compress", help="Compress the WKW and Zarr v3 mags of a dataset in place."
    )
    compress.add_argument("path", help="Dataset folder.")
    compress.add_argument(
        "--layer", action="append", default=None, help="Only this layer (repeatable)."
    )
    _add_parallel_options(compress)
    compress.set_defaults(func=_cmd_compress)

    check = commands.add_parser(
        "check", help="Verify that a dataset reads, or that two datasets are equal."
    )
    check.add_argument("source", help="Dataset folder, precomputed folder or URL.")
    check.add_argument("other", nargs="?", default=None, help="Compare with this dataset.")
    _add_parallel_options(check)
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user mistakes print one line and exit 1, no traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from .parallel import set_progress

        set_progress(args.progress or os.environ.get("WKL_PROGRESS", "auto"))
        if getattr(args, "jobs", 1) < 1:
            raise InvalidArgumentError(f"--jobs must be at least 1, got {args.jobs}.")
        args.func(args)
    except WebknossosLikeError as exc:
        print(f"wkl: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
