"""A reader process for the fuzz tests: opens a dataset and reads, reporting what happened.

Native decoders (the `wkw` library, the compressed_segmentation C package) can abort or
segfault on hostile bytes, and huge sizes in metadata can allocate without end; so the fuzz tests
let this process do the reading. The test writes the corrupted file itself, then sends one JSON
request per line; the answer is one JSON line:

    {"status": "ok", "zeros": bool}

(`"full": true` in the request reads each mag whole instead of an 8^3 corner.)
    {"status": "raised", "type": "CorruptChunkError", "ours": true, "message": "..."}

The address space is capped (`RLIMIT_AS`), so an allocation sized by hostile metadata fails
with MemoryError instead of swapping. Run as `python -m tests.reliability._oracle`.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from typing import Any

MEMORY_LIMIT = 3 << 30


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Open and read as the request says; classify the outcome."""
    from webknossos_like import Dataset
    from webknossos_like.errors import WebknossosLikeError

    try:
        ds = Dataset.open(request["path"])
        layers = [request["layer"]] if request.get("layer") else list(ds.layers)
        zeros = True
        for name in layers:
            layer = ds.get_layer(name)
            mags = (
                [layer.get_mag(request["mag"])] if request.get("mag") else list(layer.mags.values())
            )
            for mag in mags:
                if request.get("offset") is not None:
                    data = mag.read(absolute_offset=request["offset"], size=request["size"])
                elif request.get("full"):
                    # The whole layer box, as `mag.read()` without arguments reads it: huge
                    # boxes from metadata must be refused with a library error, not allocated.
                    if layer.bounding_box.is_empty():
                        continue
                    data = mag.read()
                else:
                    box = layer.bounding_box
                    if box.is_empty():
                        continue
                    # At most an 8^3 corner of the layer: metadata may describe huge volumes.
                    size = box.size.pairmin((8, 8, 8)).pairmax(mag.mag.as_vec3_int)
                    data = mag.read(absolute_offset=box.topleft.to_tuple(), size=size.to_tuple())
                zeros = zeros and not data.any()
        return {"status": "ok", "zeros": zeros}
    except Exception as exc:
        return {
            "status": "raised",
            "type": type(exc).__name__,
            "ours": isinstance(exc, WebknossosLikeError),
            "message": str(exc)[:500],
            "traceback": "" if isinstance(exc, WebknossosLikeError) else traceback.format_exc(),
        }


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    import webknossos_like  # noqa: F401

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        sys.stdout.write(json.dumps(handle(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
