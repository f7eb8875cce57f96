"""The object model: Dataset -> Layer / SegmentationLayer -> MagView -> View."""

from .buffered import BufferedSliceReader, BufferedSliceWriter
from .dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset
from .layer import Layer, SegmentationLayer
from .mag_view import MagView
from .view import View

__all__ = [
    "COLOR_CATEGORY",
    "SEGMENTATION_CATEGORY",
    "BufferedSliceReader",
    "BufferedSliceWriter",
    "Dataset",
    "Layer",
    "MagView",
    "SegmentationLayer",
    "View",
]
