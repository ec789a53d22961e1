"""Uploads from the UI: safe file names, stored inside the data directory, never elsewhere.

`safe_filename` is pure: whatever name a browser sends (`../../x`, an absolute path, NUL bytes,
5,000 characters), the result is one short, plain file name.
"""
from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from index.errors import UsageError
from index.load import SUPPORTED_SUFFIXES

MAX_NAME = 120


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("\x00", "")
    name = re.split(r"[\\/]", name)[-1]  # the last path component only: no directories, no drives
    name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:10].lower()
    stem = stem.strip(" ._")[: MAX_NAME - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def save_upload(temp_path: str | Path, original_name: str, data_dir: Path) -> Path:
    """Copy an uploaded file into `data_dir/uploads/` under a safe name, refusing unknown types."""
    name = safe_filename(original_name)
    if not name.lower().endswith(SUPPORTED_SUFFIXES):
        raise UsageError(f"{name}: unsupported type; upload {', '.join(SUPPORTED_SUFFIXES)}")
    folder = (data_dir / "uploads").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    dest = (folder / name).resolve()
    if dest.parent != folder:  # belt and braces: safe_filename already guarantees this
        raise UsageError(f"{original_name!r}: not a valid file name")
    shutil.copyfile(temp_path, dest)
    return dest
