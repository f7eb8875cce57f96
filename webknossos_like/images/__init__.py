"""Image stacks in and out: TIFF / PNG / JPEG slices, multi-page and OME-TIFF, NIfTI.

Readers are tifffile, Pillow and nibabel (the `[images]` extra); no codecs of our own.
`Dataset.from_images`, `Dataset.add_layer_from_images` and `View.to_images` use this package.
"""

from .export import EXPORT_FORMATS, to_images
from .importer import add_layer_from_images, from_images, import_source
from .inputs import open_image_source
from .naming import SORT_KEYS, mtime_sort_key, name_sort_key, natural_sort_key
from .source import ImageSource, StackInfo

__all__ = [
    "EXPORT_FORMATS",
    "SORT_KEYS",
    "ImageSource",
    "StackInfo",
    "add_layer_from_images",
    "from_images",
    "import_source",
    "mtime_sort_key",
    "name_sort_key",
    "natural_sort_key",
    "open_image_source",
    "to_images",
]
