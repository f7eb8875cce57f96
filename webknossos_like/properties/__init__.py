"""The `datasource-properties.json` model: attrs classes, the JSON converter, dtype helpers and the locked file."""

from __future__ import annotations

from webknossos_like.properties.converter import (
    JS_MAX_SAFE_INTEGER,
    converter,
    dumps,
    format_json_path,
    loads,
    structure,
    unstructure,
)
from webknossos_like.properties.dtypes import (
    ELEMENT_CLASSES,
    SUPPORTED_DTYPES,
    dtype_per_channel,
    element_class_for,
)
from webknossos_like.properties.models import (
    COLOR_CATEGORY,
    KNOWN_DATA_FORMATS,
    LENGTH_UNIT_TO_NANOMETER,
    LENGTH_UNITS,
    SEGMENTATION_CATEGORY,
    AnyLayerProperties,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerCategory,
    LayerProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    VoxelSize,
    normalize_length_unit,
)
from webknossos_like.properties.properties_file import (
    LOCK_FILE_NAME,
    PROPERTIES_FILE_NAME,
    PropertiesFile,
)
from webknossos_like.properties.view_configuration import (
    DatasetViewConfiguration,
    LayerViewConfiguration,
)

__all__ = [
    "DatasetViewConfiguration",
    "LayerViewConfiguration",
    "COLOR_CATEGORY",
    "ELEMENT_CLASSES",
    "JS_MAX_SAFE_INTEGER",
    "KNOWN_DATA_FORMATS",
    "LENGTH_UNITS",
    "LENGTH_UNIT_TO_NANOMETER",
    "LOCK_FILE_NAME",
    "PROPERTIES_FILE_NAME",
    "SEGMENTATION_CATEGORY",
    "SUPPORTED_DTYPES",
    "AnyLayerProperties",
    "BoundingBoxProperties",
    "DatasetId",
    "DatasetProperties",
    "LayerCategory",
    "LayerProperties",
    "MagViewProperties",
    "PropertiesFile",
    "SegmentationLayerProperties",
    "VoxelSize",
    "converter",
    "dtype_per_channel",
    "dumps",
    "element_class_for",
    "format_json_path",
    "loads",
    "normalize_length_unit",
    "structure",
    "unstructure",
]
