"""webknossos_like: large 3D microscopy volumes behind one Dataset / Layer / MagView / View API."""

from . import errors, executors
from .dataset import (
    COLOR_CATEGORY,
    SEGMENTATION_CATEGORY,
    AgglomerateAttachment,
    Attachment,
    AttachmentDataFormat,
    Attachments,
    BufferedSliceReader,
    BufferedSliceWriter,
    ConnectomeAttachment,
    CumsumAttachment,
    Dataset,
    Layer,
    MagView,
    MeshAttachment,
    SegmentationLayer,
    SegmentIndexAttachment,
    SegmentStatisticsAttachment,
    View,
)
from .errors import WebknossosLikeError
from .geometry import BoundingBox, Mag, Vec3Int
from .geometry.nd_bounding_box import NDBoundingBox
from .geometry.normalized_bounding_box import NormalizedBoundingBox
from .geometry.vec3_float import Vec3Float
from .geometry.vec_int import VecInt
from .io_pool import config, io_threads
from .properties import DatasetViewConfiguration, LayerViewConfiguration, VoxelSize
from .properties.coordinate_transformations import (
    AffineCoordinateTransformation,
    CoordinateTransformation,
    ThinPlateSplineCoordinateTransformation,
)
from .properties.models import LengthUnit
from .storage.formats import DataFormat

__version__ = "0.1.0"

__all__ = [
    "AgglomerateAttachment",
    "Attachment",
    "AttachmentDataFormat",
    "Attachments",
    "ConnectomeAttachment",
    "CumsumAttachment",
    "MeshAttachment",
    "SegmentIndexAttachment",
    "SegmentStatisticsAttachment",
    "AffineCoordinateTransformation",
    "CoordinateTransformation",
    "ThinPlateSplineCoordinateTransformation",
    "COLOR_CATEGORY",
    "SEGMENTATION_CATEGORY",
    "BoundingBox",
    "BufferedSliceReader",
    "BufferedSliceWriter",
    "DataFormat",
    "Dataset",
    "DatasetViewConfiguration",
    "Layer",
    "LayerViewConfiguration",
    "LengthUnit",
    "Mag",
    "MagView",
    "NDBoundingBox",
    "NormalizedBoundingBox",
    "SegmentationLayer",
    "Vec3Float",
    "Vec3Int",
    "VecInt",
    "VoxelSize",
    "View",
    "WebknossosLikeError",
    "__version__",
    "config",
    "errors",
    "executors",
    "io_threads",
]
