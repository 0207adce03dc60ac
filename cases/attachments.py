"""Files a department attaches to an answer: type sniffed from the bytes, size-limited, stored by hash.

(The same rules as the citizen's attachments; kept here because domain packages do not import each other.)
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import filetype

from cases.errors import InvalidInput, TooLarge
from core.settings import Settings

ALLOWED_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
                 "application/pdf": "pdf"}
MAX_FILES = 5


@dataclass
class AnswerFile:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def _safe_name(name: str | None) -> str:
    name = Path(name or "附件").name
    return (re.sub(r"[\x00-\x1f<>:\"/\\|?*]", "_", name).strip(" .") or "附件")[:120]


def check(files: list[tuple[str | None, bytes]], settings: Settings) -> list[AnswerFile]:
    """Check every file before anything is stored; the first problem raises with a Chinese message."""
    files = [(n, d) for n, d in files if n or d]
    if len(files) > MAX_FILES:
        raise InvalidInput(f"答复附件最多 {MAX_FILES} 个。", field="attachments")
    limit = settings.max_upload_mb * 1024 * 1024
    out = []
    for name, data in files:
        label = _safe_name(name)
        if not data:
            raise InvalidInput(f"附件“{label}”是空文件，请重新选择。", field="attachments")
        if len(data) > limit:
            raise TooLarge(f"附件“{label}”超过 {settings.max_upload_mb} MB，请压缩后再上传。", field="attachments")
        kind = filetype.guess(data[:8192])
        if kind is None or kind.mime not in ALLOWED_TYPES:
            raise InvalidInput(f"附件“{label}”不是可接受的图片或 PDF 文件（仅支持 JPG、PNG、GIF、WEBP、PDF）。",
                               field="attachments")
        out.append(AnswerFile(label, kind.mime, data, hashlib.sha256(data).hexdigest()))
    return out


def store(file: AnswerFile, settings: Settings) -> str:
    relative = Path(file.sha256[:2]) / f"{file.sha256}.{ALLOWED_TYPES[file.content_type]}"
    target = settings.attachments_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(file.data)
        tmp.replace(target)
    return str(relative)
