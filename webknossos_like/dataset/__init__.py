"""The object model: Dataset -> Layer / SegmentationLayer -> MagView -> View."""

from .attachment import (
    AgglomerateAttachment,
    Attachment,
    AttachmentDataFormat,
    ConnectomeAttachment,
    CumsumAttachment,
    MeshAttachment,
    SegmentIndexAttachment,
    SegmentStatisticsAttachment,
)
from .attachments import Attachments
from .buffered import BufferedSliceReader, BufferedSliceWriter
from .dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset
from .layer import Layer, SegmentationLayer
from .mag_view import MagView
from .view import View

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
