"""Attachments: type sniffed from the bytes (never the client's word), size limits, content-addressed storage."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import filetype

from core.settings import Settings

#: What a citizen may attach, by sniffed MIME type → stored extension.
ALLOWED_TYPES = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "application/pdf": "pdf",
}
MAX_FILES = 5


class AttachmentError(ValueError):
    """A file that cannot be accepted; the message tells the citizen what to do."""


@dataclass
class CheckedFile:
    filename: str
    content_type: str
    data: bytes
    sha256: str

    @property
    def extension(self) -> str:
        return ALLOWED_TYPES[self.content_type]


def safe_filename(name: str | None) -> str:
    name = Path(name or "附件").name
    name = re.sub(r"[\x00-\x1f<>:\"/\\|?*]", "_", name).strip(" .") or "附件"
    return name[:120]


def check_file(filename: str | None, data: bytes, settings: Settings) -> CheckedFile:
    label = safe_filename(filename)
    if not data:
        raise AttachmentError(f"附件“{label}”是空文件，请重新选择。")
    limit = settings.max_upload_mb * 1024 * 1024
    if len(data) > limit:
        raise AttachmentError(f"附件“{label}”超过 {settings.max_upload_mb} MB，请压缩后再上传。")
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise AttachmentError(f"附件“{label}”不是可接受的图片或 PDF 文件（仅支持 JPG、PNG、GIF、WEBP、PDF）。")
    if kind.mime == "application/pdf" and b"%%EOF" not in data[-2048:]:
        raise AttachmentError(f"附件“{label}”不是完整的 PDF 文件。")
    return CheckedFile(label, kind.mime, data, hashlib.sha256(data).hexdigest())


def store(checked: CheckedFile, settings: Settings) -> str:
    """Write the file under the attachments folder by content hash; returns the path relative to it."""
    relative = Path(checked.sha256[:2]) / f"{checked.sha256}.{checked.extension}"
    target = settings.attachments_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        try:
            tmp.write_bytes(checked.data)
            tmp.replace(target)
        except OSError:
            tmp.unlink(missing_ok=True)  # disk full: leave no partial file behind; the caller rolls back
            raise
    return str(relative)
