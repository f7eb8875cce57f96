"""The exception hierarchy: one root, each class also a built-in type users already catch."""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AttachmentExistsError",
    "AttachmentFileNotFoundError",
    "AttachmentNotFoundError",
    "BucketNotFoundError",
    "ConcurrentUpdateError",
    "SamplingSchemeError",
    "UnknownModeError",
    "NotASegmentationLayerError",
    "NotADatasetFolderError",
    "InvalidCategoryError",
    "ConflictingArgumentsError",
    "AlignmentError",
    "CorruptChunkError",
    "DTypeError",
    "DataShapeError",
    "DatasetExistsError",
    "DatasetNotFoundError",
    "GeometryError",
    "ImageFileError",
    "InvalidArgumentError",
    "InvalidMagError",
    "InvalidNameError",
    "InvalidPropertiesError",
    "LayerExistsError",
    "LayerNotFoundError",
    "MagExistsError",
    "MagNotFoundError",
    "OutOfBoundsError",
    "ReadOnlyError",
    "StorageError",
    "UnsupportedFormatError",
    "WebknossosLikeError",
]


class WebknossosLikeError(Exception):
    """Root of every error this library raises on purpose."""

    def __str__(self) -> str:
        # KeyError quotes its message (str(KeyError("x")) == "'x'"); show plain text instead.
        if len(self.args) == 1 and isinstance(self.args[0], str):
            return self.args[0]
        return super().__str__()


class GeometryError(WebknossosLikeError, ValueError):
    """A vector, mag or bounding box was built from values that do not describe one."""


class InvalidMagError(GeometryError):
    """A magnification is not a power of two per axis, or could not be parsed."""


class AlignmentError(GeometryError):
    """Coordinates are not aligned to the mag or chunk grid that the operation requires."""


class InvalidArgumentError(WebknossosLikeError, ValueError):
    """An argument value the operation cannot work with (unknown category, mode, mismatch...)."""


class InvalidCategoryError(InvalidArgumentError, RuntimeError):
    """A layer category other than "color" or "segmentation" (a `RuntimeError` in webknossos)."""


class NotASegmentationLayerError(InvalidArgumentError, TypeError):
    """A segmentation layer was asked for and a color layer found (a `TypeError` in webknossos)."""


class ConflictingArgumentsError(InvalidArgumentError, AttributeError):
    """Two arguments that exclude each other were both passed (webknossos: `AttributeError`)."""


class SamplingSchemeError(InvalidArgumentError, RuntimeError):
    """A pyramid whose mags webknossos could not tell apart (a `RuntimeError` in webknossos)."""


class UnknownModeError(InvalidArgumentError, KeyError):
    """An interpolation or sampling mode name that does not exist (webknossos: `KeyError`)."""


class InvalidPropertiesError(WebknossosLikeError, ValueError):
    """`datasource-properties.json` (or a precomputed `info`) is malformed.

    The message names the file and the JSON path of the problem, e.g. `dataLayers[1].elementClass`.
    """

    def __init__(self, message: str, *, path: object = None, json_path: str | None = None):
        where = ""
        if path is not None:
            where += f"{path}"
        if json_path:
            where += f" at {json_path}" if where else json_path
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.json_path = json_path


class DatasetNotFoundError(WebknossosLikeError, FileNotFoundError):
    """No dataset (no `datasource-properties.json`) at the given path."""


class DatasetExistsError(WebknossosLikeError, FileExistsError, RuntimeError):
    """Creating a dataset where one (or another non-empty folder) already exists.

    Also a `RuntimeError`, which is what webknossos raises here.
    """


class NotADatasetFolderError(DatasetExistsError, NotADirectoryError):
    """The dataset path is a file, so no dataset folder can be created there."""


class InvalidNameError(WebknossosLikeError, ValueError):
    """A layer name (or other user-chosen name) that could escape the dataset folder or is not allowed."""


class LayerNotFoundError(WebknossosLikeError, KeyError, IndexError):
    """The dataset has no layer of that name (also an `IndexError`, as in webknossos)."""


class LayerExistsError(WebknossosLikeError, ValueError, IndexError):
    """A layer of that name already exists (also an `IndexError`, as in webknossos)."""


class MagNotFoundError(WebknossosLikeError, KeyError, IndexError):
    """The layer has no such mag (also an `IndexError`, as in webknossos)."""


class MagExistsError(WebknossosLikeError, ValueError, IndexError):
    """The layer already has that mag (also an `IndexError`, as in webknossos)."""


class AttachmentNotFoundError(WebknossosLikeError, KeyError):
    """The layer lists no such attachment (a `KeyError`, as in webknossos)."""


class AttachmentExistsError(WebknossosLikeError, ValueError):
    """An attachment of that name (or a second segment index, statistics or cumsum) is already
    listed (a `ValueError`, as in webknossos for duplicate names)."""


class ReadOnlyError(WebknossosLikeError, PermissionError, RuntimeError):
    """A write was attempted through a read-only dataset, layer or view.

    Also a `RuntimeError`, which is what webknossos raises here.
    """


class OutOfBoundsError(WebknossosLikeError, IndexError, ValueError):
    """A region lies outside the view it was requested from.

    Also a `ValueError`: webknossos raises that for a write outside the layer box.
    """


class DTypeError(WebknossosLikeError, TypeError, ValueError):
    """Data of the wrong dtype was passed, or a dtype the layer category does not allow.

    Also a `ValueError`: webknossos raises that for a dtype a layer category does not allow.
    """


class DataShapeError(WebknossosLikeError, ValueError):
    """Data has the wrong number of dimensions, channels or a shape that does not match the region."""


class UnsupportedFormatError(WebknossosLikeError, ValueError):
    """A data format, codec or encoding this library cannot read or write."""


class StorageError(WebknossosLikeError, OSError):
    """Reading or writing the bytes of a chunk, shard or metadata file failed."""


class CorruptChunkError(StorageError):
    """A chunk or shard file exists but its bytes cannot be decoded; the message names the file."""


class ImageFileError(StorageError, ValueError):
    """An input image cannot be read, or does not fit the stack (shape, dtype, channels).

    The message names the file (also in `path`); an `OSError` and a `ValueError`, so code that
    catches either for bad input keeps working.
    """

    def __init__(self, message: str, *, path: object = None) -> None:
        super().__init__(message)
        self.path = path


class AccessDeniedError(StorageError, PermissionError):
    """The object store refused the credentials (unknown key, bad signature, access denied)."""


class BucketNotFoundError(StorageError, FileNotFoundError):
    """The bucket of an object-store URL does not exist."""


class AttachmentFileNotFoundError(StorageError, FileNotFoundError):
    """The file or folder of an attachment to copy does not exist."""


class ConcurrentUpdateError(StorageError):
    """Another writer changed a metadata object between our read and our conditional write."""
