"""Rewrite a WKW mag's block and file lengths consistently (header.wkw and every shard file)."""

from __future__ import annotations

from pathlib import Path

#: Sparse jump tables beyond 8 * 2^39 bytes (4 TiB) exceed what file systems allow.
MAX_FILE_LOG2 = 13


def set_wkw_geometry(mag: Path, block_log2: int, file_log2: int) -> None:
    """Set `header.wkw`'s length nibbles to 2^block_log2 voxels per block and 2^file_log2 blocks
    per file, and every shard file's copy of the header to match, with the data offset an LZ4
    file then has (its jump table, as a sparse region), so that only the lengths are hostile."""
    file_log2 = min(file_log2, MAX_FILE_LOG2)
    header = bytearray((mag / "header.wkw").read_bytes())
    if header[5] == 1:
        raise ValueError(f"{mag} is not compressed (LZ4)")
    header[4] = (file_log2 << 4) | block_log2
    (mag / "header.wkw").write_bytes(bytes(header))
    offset = 16 + 8 * (1 << (3 * file_log2))
    for shard in mag.glob("z*/y*/x*.wkw"):
        size = shard.stat().st_size
        with open(shard, "r+b") as handle:
            handle.write(bytes(header[:8]) + offset.to_bytes(8, "little"))
            handle.truncate(max(offset, size))
