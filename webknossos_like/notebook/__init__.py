"""Notebook support: HTML tables for `_repr_html_` and pictures of slices.

```python
from webknossos_like.notebook import dataset_html, thumbnail

thumbnail(dataset.get_layer("color").get_mag(1))            # the middle z slice, as a PIL image
thumbnail(mag_view, axis="x", index=40, max_size=256)     # an x slice, absolute mag coordinates
```

`thumbnail` and `to_png` import Pillow (a core dependency); nothing here is imported by
`import webknossos_like` itself.
"""

from .html import (
    bbox_html,
    dataset_html,
    format_bytes,
    layer_disk_size,
    layer_html,
    mag_html,
    view_html,
)
from .thumbnail import label_color, label_colors, thumbnail, to_png

__all__ = [
    "bbox_html",
    "dataset_html",
    "format_bytes",
    "label_color",
    "label_colors",
    "layer_disk_size",
    "layer_html",
    "mag_html",
    "thumbnail",
    "to_png",
    "view_html",
]
