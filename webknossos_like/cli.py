"""`wkl`, the command line: thin commands over the public API."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from ._atomic import TEMP_PREFIX
from .errors import WebknossosLikeError
from .storage.s3.location import is_s3_url

_FORMATS = {
    "wkw": "wkw",
    "zarr3": "zarr3",
    "precomputed": "neuroglancerPrecomputed",
    "neuroglancerPrecomputed": "neuroglancerPrecomputed",
    "neuroglancer_precomputed": "neuroglancerPrecomputed",
}
#: Chunk encodings `--encoding` offers (precomputed targets).
_ENCODINGS = ("raw", "compressed_segmentation", "jpeg", "png")
#: Files that make a folder a dataset (or a bare volume) for `info FOLDER` and `--overwrite`.
_DATASET_MARKERS = ("datasource-properties.json", "info", "zarr.json", ".zattrs")
#: How deep `wkl info FOLDER` looks for datasets below a folder that is none.
_SEARCH_DEPTH = 3

#: Exit statuses (docs/cli.md): done / problems found or the work failed / usage.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Exit status when the reader of our output went away (`wkl info X | head -1`), as SIGPIPE.
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130


class CommandError(WebknossosLikeError):
    """A mistake on the command line (unknown layer, existing target...): one line of CLI
    advice on stderr and the exit status `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`wkl: error: ...`), like every other `wkl` error."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the command's `--help`, exit with the usage status."""
        self.exit(EXIT_USAGE, f"wkl: error: {message} (see: {self.prog} --help)\n")


def _shape(text: str) -> tuple[int, int, int]:
    """`64` or `64,64,32`: a chunk or shard shape from the command line."""
    try:
        parts = [int(part) for part in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(
            f"expected N or X,Y,Z with positive integers, got {text!r}"
        )
    return parts[0], parts[1], parts[2]


def _names(text: str) -> list[str]:
    """`a,b`: layer names, commas separating them."""
    return [name for name in (part.strip() for part in text.split(",")) if name]


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
    """The dataset at `path`; one that cannot be opened is a usage error (status 2)."""
    from .dataset import Dataset

    try:
        return Dataset.open(path, read_only=read_only)
    except (WebknossosLikeError, OSError) as exc:
        raise CommandError(f"cannot open {path}: {exc}") from exc


def _cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(args.dir)


def _cmd_info(args: argparse.Namespace) -> None:
    path = Path(args.path)  # only looked at for local paths (no "://")
    if "://" not in args.path and path.is_dir() and not _is_dataset_folder(path):
        found = list(_datasets_below(path))
        if found:
            for folder, dataset in found:
                print(_dataset_line(folder, dataset))
            return
    _print_dataset(_open(args.path, read_only=True))


def _is_dataset_folder(folder: Path) -> bool:
    """Whether `folder` holds a dataset's (or a bare volume's) metadata file."""
    return any((folder / marker).is_file() for marker in _DATASET_MARKERS)


def _datasets_below(root: Path, depth: int = _SEARCH_DEPTH) -> Iterator[tuple[Path, Any]]:
    """The datasets in the folders below `root` (not inside datasets, hidden ones skipped),
    at most `depth` levels down, as `(folder, opened dataset)` in name order."""
    from .dataset import Dataset

    if depth < 1:
        return
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _is_dataset_folder(child):
            try:
                yield child, Dataset.open(child, read_only=True)
                continue
            except (WebknossosLikeError, OSError):
                pass
        yield from _datasets_below(child, depth - 1)


def _dataset_line(folder: Path, dataset: Any) -> str:
    """One line about a dataset: where, its name, its layers and their formats."""
    layers = list(dataset.layers.values())
    formats = sorted({layer.data_format for layer in layers})
    names = ", ".join(layer.name for layer in layers)
    return f"{folder}: {dataset.name}, {len(layers)} layer(s) ({names}), {', '.join(formats)}"


def _print_dataset(dataset: Any) -> None:
    """Layers, bounding boxes, mags and how each is stored."""
    from .notebook.html import format_bytes, layer_disk_size

    print(
        f"{dataset.name}: voxel size {dataset.voxel_size_with_unit.factor} "
        f"{dataset.voxel_size_unit}  ({dataset.location})"
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
            print(f"    mag {mag.to_layer_name()}: {_storage_line(info)}")


def _storage_line(info: Any) -> str:
    """Chunk, shard (when chunks share files) and encoding or compression of one mag."""
    parts = [f"chunk {info.chunk_shape.to_tuple()}"]
    if info.sharded:
        parts.append(f"shard {info.shard_shape.to_tuple()}")
    if info.encoding is None:
        parts.append("compressed" if info.compressed else "raw")
    elif info.encoding == "raw" and info.compressed:
        parts.append("raw (gzip shards)")
    else:
        parts.append(info.encoding)
    return ", ".join(parts)


def _cmd_convert(args: argparse.Namespace) -> None:
    data_format = _FORMATS[args.format]
    options: dict[str, Any] = {}
    if args.encoding is not None:
        options["encoding"] = args.encoding
    if args.sharded is not None:
        options["sharded"] = args.sharded
    if options and data_format != "neuroglancerPrecomputed":
        raise CommandError(
            "--encoding and --sharded apply to --format precomputed only "
            "(wkw and zarr3 mags are always sharded; --shard-shape sets their shard)."
        )
    source = _open(args.source, read_only=True)
    ignored = _ignored_layers(source, args.layer, args.ignore_layer)
    if args.resume and args.overwrite:
        raise CommandError("--resume and --overwrite exclude each other; pass one of them.")
    remote = is_s3_url(args.target)
    if remote and args.overwrite:
        raise CommandError(
            "--overwrite needs a rename, which object storage lacks; delete the target prefix "
            "first (e.g. `aws s3 rm --recursive`) or choose another one."
        )
    target: Any = args.target if remote else Path(args.target)
    scratch = (
        None if args.resume or remote else _prepare_target(target, args.source, args.overwrite)
    )
    try:
        with _executor(args) as executor:
            copy = source.copy_dataset(
                scratch or target,
                data_format=data_format,
                chunk_shape=args.chunk_shape,
                shard_shape=args.shard_shape,
                compress=args.compress,
                layers_to_ignore=ignored,
                exist_ok=args.resume,
                executor=executor,
                **options,
            )
            count = len(copy.layers)
        if scratch is not None:
            _replace(target, scratch)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"Converted {count} layer(s) to {target} ({args.format}).")


def _voxel_size(text: str) -> tuple[float, float, float]:
    """`11.2,11.2,25` (or one number for all three axes): a voxel size from the command line."""
    try:
        parts = [float(part) for part in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"expected V or X,Y,Z with positive numbers, got {text!r}")
    return parts[0], parts[1], parts[2]


def _cmd_import(args: argparse.Namespace) -> None:
    from .dataset import Dataset
    from .images import SORT_KEYS

    with _executor(args) as executor:
        dataset = Dataset.from_images(
            args.input,
            args.output,
            voxel_size=args.voxel_size,
            name=args.name,
            voxel_size_unit=args.unit,
            layer_name=args.layer_name,
            layer_category=args.category,
            data_format=_FORMATS[args.format],
            chunk_shape=args.chunk_shape,
            shard_shape=args.shard_shape,
            compress=args.compress,
            z_slices_sort_key=SORT_KEYS[args.sort],
            dtype=args.dtype,
            downsample=args.downsample,
            executor=executor,
        )
    (layer,) = dataset.layers.values()
    print(
        f"Imported {args.input} into {args.output}: layer {layer.name!r} ({layer.category}, "
        f"{layer.num_channels} x {layer.dtype}, {layer.bounding_box.size.to_tuple()} voxels of "
        f"{dataset.voxel_size_with_unit.factor} {dataset.voxel_size_unit}, mags "
        f"{', '.join(m.to_layer_name() for m in layer.mags)})."
    )


def _cmd_export(args: argparse.Namespace) -> None:
    from .errors import LayerNotFoundError, MagNotFoundError

    dataset = _open(args.dataset, read_only=True)
    try:
        layer = dataset.get_layer(args.layer)
        view = layer.get_finest_mag() if args.mag is None else layer.get_mag(args.mag)
    except (LayerNotFoundError, MagNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
    with _executor(args) as executor:
        files = view.to_images(args.out, args.format, executor=executor)
    what = "OME-TIFF" if args.format == "ome-tiff" else f"{len(files)} {args.format} slice(s)"
    print(f"Exported layer {layer.name!r} mag {view.mag.to_layer_name()} to {args.out} ({what}).")


def _ignored_layers(source: Any, wanted: list[str] | None, ignored: list[str] | None) -> list[str]:
    """The layers to leave out: all but `--layers`, plus `--ignore-layer`; unknown names are
    refused with the names there are."""
    names = list(source.layers)
    unknown = [name for name in (wanted or []) + (ignored or []) if name not in names]
    if unknown:
        raise CommandError(
            f"no layer {', '.join(map(repr, unknown))} in {source.location}; "
            f"it has: {', '.join(names)}."
        )
    left_out = set(ignored or [])
    if wanted:
        left_out |= set(names) - set(wanted)
    return sorted(left_out)


def _prepare_target(target: Path, source: str, overwrite: bool) -> Path | None:
    """Refuse an existing target unless `--overwrite`; then return the scratch folder beside it
    to convert into (the old target is replaced only when the conversion succeeded)."""
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return None
    if not overwrite:
        raise CommandError(
            f"{target} exists; pass --overwrite to replace it (or --resume to finish an "
            "interrupted conversion into it)."
        )
    if not _opens_as_dataset(target):
        raise CommandError(
            f"{target} exists and is not a dataset; --overwrite only replaces datasets. "
            "Remove it yourself or choose another target."
        )
    if "://" not in source:
        here, there = Path(source).resolve(), target.resolve()
        if here == there or there in here.parents:
            raise CommandError(f"{target} holds the source {source}; choose another target.")
    return target.parent / f"{TEMP_PREFIX}{target.name}-convert-{uuid.uuid4().hex}"


def _opens_as_dataset(folder: Path) -> bool:
    """Whether `folder` holds a dataset (so that `--overwrite` may replace it)."""
    from .dataset import Dataset

    if not folder.is_dir() or not _is_dataset_folder(folder):
        return False
    try:
        Dataset.open(folder, read_only=True)
    except (WebknossosLikeError, OSError):
        return False
    return True


def _replace(target: Path, scratch: Path) -> None:
    """Swap a finished conversion in for the old target, then delete the old one."""
    from ._atomic import swap_folder

    swap_folder(target, scratch)


def _layers(dataset: Any, names: list[str] | None) -> list[Any]:
    """The layers `--layers` names (all without it); unknown names are a usage error."""
    if not names:
        return list(dataset.layers.values())
    unknown = [name for name in names if name not in dataset.layers]
    if unknown:
        raise CommandError(
            f"no layer {', '.join(map(repr, unknown))} in {dataset.location}; "
            f"it has: {', '.join(dataset.layers)}."
        )
    return [dataset.get_layer(name) for name in names]


def _cmd_downsample(args: argparse.Namespace) -> None:
    dataset = _open(args.path, read_only=False)
    with _executor(args) as executor:
        for layer in _layers(dataset, args.layer):
            created = layer.downsample(
                coarsest_mag=args.coarsest_mag,
                interpolation_mode=args.interpolation,
                sampling_mode=args.sampling,
                compress=args.compress,
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


def _cmd_check(args: argparse.Namespace) -> int:
    from .ops.check import diff_datasets, find_unreadable

    source = _open(args.source, read_only=True)
    other = None if args.other is None else _open(args.other, read_only=True)
    layers = None if not args.layer else [layer.name for layer in _layers(source, args.layer)]
    with _executor(args) as executor:
        if other is None:
            report = find_unreadable(source, executor=executor, layers=layers)
            for problem in report.problems:
                print(f"UNREADABLE: {problem}")
            if report.problems:
                print(
                    f"PROBLEMS: {len(report.problems)} of {report.regions} stored file(s) of "
                    f"{source.location} cannot be read."
                )
                return EXIT_FAILED
            print(f"OK: {report.regions} stored file(s) of {source.location} read without error.")
            return EXIT_OK
        differences = diff_datasets(source, other, executor=executor, layers=layers)
    for difference in differences:
        print(f"DIFFERENT: {difference}")
    if differences:
        voxels = sum(d.voxels for d in differences)
        boxes = sum(1 for d in differences if d.box is not None)
        print(
            f"PROBLEMS: {len(differences)} difference(s) between {args.source} and {args.other} "
            f"({boxes} chunk box(es), {voxels} voxel(s))."
        )
        return EXIT_FAILED
    print(f"EQUAL: {args.source} and {args.other} hold the same layers, mags and voxels.")
    return EXIT_OK


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

    with _cannot_open(args.path):
        run_serve(args)


def _cmd_view(args: argparse.Namespace) -> None:
    from .serve.commands import run_view

    with _cannot_open(args.path):
        run_view(args)


@contextmanager
def _cannot_open(path: str) -> Iterator[None]:
    """A dataset that is not there is a usage error (status 2), as for the other commands."""
    from .errors import DatasetNotFoundError

    try:
        yield
    except DatasetNotFoundError as exc:
        raise CommandError(f"cannot open {path}: {exc}") from exc


def _add_layer_options(parser: argparse.ArgumentParser, text: str) -> None:
    """`--layers a,b` (also spelled `--layer`, repeatable): the layers a command works on."""
    parser.add_argument(
        "--layers", "--layer", dest="layer", type=_names, action="extend", default=None, help=text
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `wkl` (exposed for tests and docs)."""
    from . import __version__

    parser = _Parser(
        prog="wkl",
        description="Work with WKW, Zarr v3 and precomputed volumes.",
        epilog="Exit status: 0 done, 1 the work failed or `check` found problems, 2 usage "
        "(invalid arguments, a path that cannot be opened); see docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"wkl {__version__}")
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default=None,
        help="Progress bars (default: $WKL_PROGRESS, else auto: when interactive).",
    )
    parser.add_argument(
        "--endpoint-url",
        default=None,
        metavar="URL",
        help="S3-compatible endpoint for s3:// paths, e.g. http://minio:9000 (default: "
        "$AWS_ENDPOINT_URL, else AWS). Credentials: the usual AWS variables and files.",
    )
    parser.add_argument(
        "--region", default=None, help="S3 region for s3:// paths (default: $AWS_REGION)."
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
        "--chunk-shape",
        type=_shape,
        default=None,
        metavar="N|X,Y,Z",
        help="Chunk shape of the target mags (default: like the source, if the format can).",
    )
    convert.add_argument(
        "--shard-shape",
        type=_shape,
        default=None,
        metavar="N|X,Y,Z",
        help="Shard shape of the target mags, a multiple of the chunk (default: like the "
        "source; for precomputed a larger shard than chunk means sharded).",
    )
    convert.add_argument(
        "--compress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Compress the target (default: like the source).",
    )
    convert.add_argument(
        "--encoding",
        choices=_ENCODINGS,
        default=None,
        help="Chunk encoding of precomputed targets (default: like a precomputed source, else "
        "compressed_segmentation for compressed uint32/uint64 segmentation, raw otherwise).",
    )
    convert.add_argument(
        "--sharded",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Precomputed targets: chunks in shard files (default: like the source; compressed "
        "raw data is sharded, as only shards can be gzip-compressed).",
    )
    convert.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace an existing target dataset (only once the conversion succeeded).",
    )
    convert.add_argument(
        "--resume",
        action="store_true",
        help="Finish an interrupted conversion into TARGET: keep the mags copied whole, copy "
        "the rest.",
    )
    _add_layer_options(convert, "Only these layers, e.g. color,seg (repeatable).")
    convert.add_argument(
        "--ignore-layer",
        type=_names,
        action="extend",
        default=None,
        help="Layers to leave out, e.g. a,b (repeatable).",
    )
    _add_parallel_options(convert)
    convert.set_defaults(func=_cmd_convert)

    import_ = commands.add_parser(
        "import",
        help="Make a dataset from images: TIFF/PNG/JPEG slices, multi-page or OME-TIFF, NIfTI.",
    )
    import_.add_argument("input", help="Folder of slices, glob, TIFF/OME-TIFF or NIfTI file.")
    import_.add_argument("output", help="New dataset folder.")
    import_.add_argument(
        "--voxel-size",
        type=_voxel_size,
        default=None,
        metavar="V|X,Y,Z",
        help="Voxel size (default: from OME-TIFF, ImageJ or NIfTI metadata).",
    )
    import_.add_argument("--unit", default=None, help="Unit of --voxel-size (default: nm).")
    import_.add_argument("--name", default=None, help="Dataset name (default: the folder name).")
    import_.add_argument(
        "--layer-name", default=None, help="Layer name (default: the category, e.g. color)."
    )
    import_.add_argument(
        "--category",
        choices=("color", "segmentation"),
        default=None,
        help="Layer category (default: segmentation if the input is named like labels or segmentation).",
    )
    import_.add_argument(
        "--format", choices=sorted(_FORMATS), default="wkw", help="Data format (default: wkw)."
    )
    import_.add_argument(
        "--chunk-shape",
        type=_shape,
        default=None,
        metavar="N|X,Y,Z",
        help="Chunk shape (default: the format's).",
    )
    import_.add_argument(
        "--shard-shape",
        type=_shape,
        default=None,
        metavar="N|X,Y,Z",
        help="Shard shape; the import reads one shard depth of slices per task.",
    )
    import_.add_argument(
        "--compress", action=argparse.BooleanOptionalAction, default=True, help="(default: on)"
    )
    import_.add_argument("--dtype", default=None, help="Cast the pixels, e.g. uint8.")
    import_.add_argument(
        "--sort",
        choices=("natural", "name", "mtime"),
        default="natural",
        help="Slice order: natural (by the numbers in the names, default), name, mtime.",
    )
    import_.add_argument(
        "--downsample", action="store_true", help="Also build the magnification pyramid."
    )
    _add_parallel_options(import_)
    import_.set_defaults(func=_cmd_import)

    export = commands.add_parser(
        "export", help="Write a layer as TIFF or PNG slices, or one OME-TIFF file."
    )
    export.add_argument("dataset", help="Dataset folder, precomputed folder or URL.")
    export.add_argument("layer", help="Layer name.")
    export.add_argument("out", help="Folder for slices, or the .ome.tif file.")
    export.add_argument(
        "--format", choices=("tiff", "png", "ome-tiff"), default="tiff", help="(default: tiff)"
    )
    export.add_argument("--mag", default=None, help="Mag to export (default: the finest).")
    _add_parallel_options(export)
    export.set_defaults(func=_cmd_export)

    downsample = commands.add_parser(
        "downsample", help="Build the magnification pyramid of layers."
    )
    downsample.add_argument("path", help="Dataset folder.")
    _add_layer_options(downsample, "Only these layers, e.g. color,seg (repeatable).")
    downsample.add_argument(
        "--coarsest-mag", default=None, help="e.g. 8 or 16-16-8 (default: from the layer size)."
    )
    downsample.add_argument(
        "--interpolation", default="default", help="average, median, mode, nearest, max, min."
    )
    downsample.add_argument(
        "--sampling", default="anisotropic", help="anisotropic, isotropic or constant_z."
    )
    downsample.add_argument(
        "--compress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Compress the new mags (default: like the mag they are computed from).",
    )
    _add_parallel_options(downsample)
    downsample.set_defaults(func=_cmd_downsample)

    compress = commands.add_parser(
        "compress", help="Compress the WKW and Zarr v3 mags of a dataset in place."
    )
    compress.add_argument("path", help="Dataset folder.")
    _add_layer_options(compress, "Only these layers, e.g. color,seg (repeatable).")
    _add_parallel_options(compress)
    compress.set_defaults(func=_cmd_compress)

    check = commands.add_parser(
        "check",
        help="List every stored file that cannot be read, or where two datasets differ.",
    )
    check.add_argument("source", help="Dataset folder, precomputed folder or URL.")
    check.add_argument("other", nargs="?", default=None, help="Compare with this dataset.")
    _add_layer_options(check, "Only these layers, e.g. color,seg (repeatable).")
    _add_parallel_options(check)
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: mistakes and failures print one line to stderr, no traceback; the exit
    status says which (docs/cli.md#exit-status)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _set_s3_environment(args)
    try:
        from .parallel import set_progress

        set_progress(args.progress or os.environ.get("WKL_PROGRESS", "auto"))
        if getattr(args, "jobs", 1) < 1:
            raise CommandError(f"--jobs must be at least 1, got {args.jobs}.")
        code = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _detach_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("wkl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CommandError as exc:
        print(f"wkl: error: {exc}", file=sys.stderr)
        return exc.code
    except (WebknossosLikeError, OSError) as exc:
        print(f"wkl: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if code is None else int(code)


def _set_s3_environment(args: argparse.Namespace) -> None:
    """`--endpoint-url` / `--region` as the AWS variables: botocore, s3fs, tensorstore and
    every worker process started from here read them."""
    if getattr(args, "endpoint_url", None):
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if getattr(args, "region", None):
        os.environ["AWS_REGION"] = args.region


def _one_line(exc: BaseException) -> str:
    """An error message on one line (messages from native libraries may span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _detach_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so that the flush at exit does
    not raise BrokenPipeError again (and print a traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
