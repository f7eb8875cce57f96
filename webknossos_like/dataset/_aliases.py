"""webknossos 4.x names kept for existing scripts: deprecated aliases and small derived properties.

Each alias warns with `DeprecationWarning` where webknossos does and calls our method. The
`symlink` variants make read-only references (`add_*_as_ref`) instead of symbolic links: the
result reads the same data, and nothing can write into another dataset through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..geometry import MagLike
from ..geometry.normalized_bounding_box import NormalizedBoundingBox
from ._compat import deprecated

if TYPE_CHECKING:
    from .dataset import Dataset
    from .layer import Layer
    from .mag_view import MagView
    from .view import View


class DatasetAliases:
    """webknossos' older names on `Dataset`."""

    @property
    def resolved_path(self) -> Path:
        """The dataset folder with symbolic links resolved."""
        this = cast("Dataset", self)
        return this.path.resolve()

    def add_copy_layer(self, foreign_layer: Any, *args: Any, **kwargs: Any) -> Layer:
        """Deprecated name of `add_layer_as_copy`."""
        this = cast("Dataset", self)
        deprecated("add_copy_layer", "add_layer_as_copy")
        return this.add_layer_as_copy(foreign_layer, *args, **kwargs)

    def add_fs_copy_layer(self, foreign_layer: Any, *args: Any, **kwargs: Any) -> Layer:
        """webknossos' file-by-file layer copy; here the same as `add_layer_as_copy`."""
        this = cast("Dataset", self)
        return this.add_layer_as_copy(foreign_layer, *args, **kwargs)

    def add_remote_layer(self, foreign_layer: Any, *args: Any, **kwargs: Any) -> Layer:
        """Deprecated name of `add_layer_as_ref`."""
        this = cast("Dataset", self)
        deprecated("add_remote_layer", "add_layer_as_ref")
        return this.add_layer_as_ref(foreign_layer, *args, **kwargs)

    def add_symlink_layer(self, foreign_layer: Any, *args: Any, **kwargs: Any) -> Layer:
        """Deprecated in webknossos (use `add_layer_as_ref`); here a read-only reference."""
        this = cast("Dataset", self)
        deprecated("add_symlink_layer", "add_layer_as_ref")
        return this.add_layer_as_ref(foreign_layer, *args, **kwargs)

    def fs_copy_dataset(self, new_dataset_path: Any, **kwargs: Any) -> Dataset:
        """webknossos' file-by-file dataset copy; here the same as `copy_dataset`."""
        this = cast("Dataset", self)
        return this.copy_dataset(new_dataset_path, **kwargs)


class LayerAliases:
    """webknossos' older names and derived properties on `Layer`."""

    @property
    def resolved_path(self) -> Path:
        """The layer folder with symbolic links resolved."""
        this = cast("Layer", self)
        return this.path.resolve()

    @property
    def is_foreign(self) -> bool:
        """Whether the layer's folder lies outside its dataset's folder."""
        this = cast("Layer", self)
        return this._is_foreign(this.path)

    @property
    def is_remote_to_dataset(self) -> bool:
        """Deprecated name of `is_foreign`."""
        this = cast("Layer", self)
        deprecated("is_remote_to_dataset", "is_foreign")
        return this.is_foreign

    def is_mag_view_foreign(self, mag_view: MagView | MagLike) -> bool:
        """Whether the mag's files lie outside this dataset (a reference to another one)."""
        this = cast("Layer", self)
        from .mag_view import MagView

        view = mag_view if isinstance(mag_view, MagView) else this.get_mag(mag_view)
        return this._is_foreign(view.path)

    @property
    def dtype_per_channel(self) -> Any:
        """Deprecated name of `dtype`."""
        this = cast("Layer", self)
        deprecated("dtype_per_channel", "dtype")
        return this.dtype

    @property
    def normalized_bounding_box(self) -> NormalizedBoundingBox:
        """The layer's box with its channel axis (c, x, y, z)."""
        this = cast("Layer", self)
        return this.bounding_box.normalize_axes(this.num_channels)

    def add_copy_mag(self, foreign_mag: Any, *args: Any, **kwargs: Any) -> MagView:
        """Deprecated name of `add_mag_as_copy`."""
        this = cast("Layer", self)
        deprecated("add_copy_mag", "add_mag_as_copy")
        return this.add_mag_as_copy(foreign_mag, *args, **kwargs)

    def add_fs_copy_mag(self, foreign_mag: Any, *args: Any, **kwargs: Any) -> MagView:
        """webknossos' file-by-file mag copy; here the same as `add_mag_as_copy`."""
        this = cast("Layer", self)
        return this.add_mag_as_copy(foreign_mag, *args, **kwargs)

    def add_remote_mag(self, foreign_mag: Any, *args: Any, **kwargs: Any) -> MagView:
        """Deprecated name of `add_mag_as_ref`."""
        this = cast("Layer", self)
        deprecated("add_remote_mag", "add_mag_as_ref")
        return this.add_mag_as_ref(foreign_mag, *args, **kwargs)

    def add_symlink_mag(self, foreign_mag: Any, *args: Any, **kwargs: Any) -> MagView:
        """Deprecated in webknossos (use `add_mag_as_ref`); here a read-only reference."""
        this = cast("Layer", self)
        deprecated("add_symlink_mag", "add_mag_as_ref")
        return this.add_mag_as_ref(foreign_mag, *args, **kwargs)


class ViewAliases:
    """webknossos' derived properties on `View` and `MagView`."""

    @property
    def normalized_bounding_box(self) -> NormalizedBoundingBox:
        """The view's box with its channel axis (c, x, y, z)."""
        this = cast("View", self)
        return this.bounding_box.normalize_axes(this.num_channels)

    def get_views_on_disk(self, read_only: bool | None = None) -> Iterator[View]:
        """One view per stored shard that overlaps this view (clipped to it)."""
        this = cast("View", self)
        for box in this.get_bounding_boxes_on_disk():
            yield this.get_view(absolute_bounding_box=box, read_only=read_only)
