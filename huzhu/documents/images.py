"""Is an uploaded flowchart really an image? Read from its content, never from the declared
type or the file name: the structure of a PNG, JPEG, GIF or WebP file is walked far enough to
find its width and height (a PNG's header checksum and end chunk, a JPEG's frame header, a GIF's
trailer, a WebP's RIFF length and frame header). SVG is refused (it can carry script).

No imaging library is needed; the check is pure and tested on bytes (tests/test_images.py).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _

from huzhu.core.errors import DomainError

MAX_SIDE = 20_000  # pixels; a larger side is refused (decompression bombs)

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def _png(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 8 + 25 + 12:
        return None
    length = int.from_bytes(data[8:12], "big")
    if length != 13 or data[12:16] != b"IHDR":
        return None
    ihdr = data[16:29]
    crc = int.from_bytes(data[29:33], "big")
    if zlib.crc32(b"IHDR" + ihdr) != crc:
        return None
    if data[-12:] != b"\x00\x00\x00\x00IEND\xaeB`\x82":
        return None
    return ImageInfo(
        "image/png", int.from_bytes(ihdr[0:4], "big"), int.from_bytes(ihdr[4:8], "big")
    )


def _jpeg(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or scan before any frame header
            return None
        seg = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if seg < 2:
            return None
        if marker in _JPEG_SOF:
            if pos + 9 > n:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return ImageInfo("image/jpeg", width, height)
        pos += 2 + seg
    return None


def _gif(data: bytes) -> ImageInfo | None:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 14 or data[-1:] != b";":
        return None
    return ImageInfo(
        "image/gif", int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    )


def _webp(data: bytes) -> ImageInfo | None:
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    if int.from_bytes(data[4:8], "little") + 8 > len(data):
        return None  # truncated
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("image/webp", width, height)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return ImageInfo("image/webp", width, height)
    return None


def identify(data: bytes) -> ImageInfo | None:
    """The type and size of an image from its bytes, or None when it is not a well-formed
    PNG, JPEG, GIF or WebP image of a sensible size."""
    for reader in (_png, _jpeg, _gif, _webp):
        info = reader(data)
        if info is not None:
            if not (1 <= info.width <= MAX_SIDE and 1 <= info.height <= MAX_SIDE):
                return None
            return info
    return None


def max_bytes() -> int:
    return int(settings.HUZHU_MAX_UPLOAD_BYTES)


def check_flowchart(file: IO[bytes]) -> ImageInfo:
    """Read an uploaded flowchart and return what it is; a DomainError on the field
    ``flowchart`` when it is empty, too large or not an image."""
    limit = max_bytes()
    file.seek(0)
    data = file.read(limit + 1)
    file.seek(0)
    if not data:
        raise DomainError(
            "documents.flowchart.empty",
            _("文件是空的，请重新选择。"),
            details={"field": "flowchart"},
        )
    if len(data) > limit:
        mb = max(1, limit // (1024 * 1024))
        raise DomainError(
            "documents.flowchart.too_large",
            _("流程图不能超过 %(n)s MB，请压缩后再上传。") % {"n": mb},
            details={"field": "flowchart", "max_bytes": limit},
        )
    info = identify(bytes(data))
    if info is None:
        raise DomainError(
            "documents.flowchart.not_image",
            _("流程图必须是 PNG、JPEG、GIF 或 WebP 格式的图片。"),
            details={"field": "flowchart"},
        )
    return info
