"""Helpers for the document tests: small real images built from bytes, an SOP of the cast's
group leader, people of the community without any role."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from huzhu.accounts.models import Person
from huzhu.documents import actions
from huzhu.documents.models import Document, DocumentKind, Visibility

SOP_V1 = "1. 每日两次测温\n2. 公共区域消杀\n3. 垃圾定点投放\n4. 快递无接触取件"
SOP_V2 = "1. 每日两次测温并上报\n2. 公共区域消杀\n3. 垃圾定点投放\n4. 快递无接触取件\n5. 出入登记"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes(width: int = 2, height: int = 1) -> bytes:
    """A real PNG image (8-bit greyscale) of the given size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def gif_bytes(width: int = 3, height: int = 2) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b",\x00;"


def jpeg_bytes(width: int = 4, height: int = 3) -> bytes:
    """The markers of a baseline JPEG up to its frame header (enough to identify it)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def upload(data: bytes, name: str = "flow.png", content_type: str = "image/png") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


def sop(
    world: Any,
    cast: Any,
    *,
    key: str = "sop-1",
    visibility: str = Visibility.COMMUNITY,
    title: str = "日常防疫 SOP",
    body: str = SOP_V1,
    kind: str = DocumentKind.SOP_PREVENTION,
    flowchart: Any = None,
) -> Document:
    """A document of ``world.group``, created by its leader (1.0)."""
    return actions.create_document(
        actor=cast.group_leader,
        community=world.community,
        group=world.group,
        kind=kind,
        title=title,
        visibility=visibility,
        body=body,
        flowchart=flowchart,
        key=key,
    )


def plain_resident(world: Any, phone: str = "13700001111") -> Person:
    """Someone living in the community without any role grant."""
    p = Person(name="无角色居民", community=world.community, household=world.household)
    p.set_phone(phone)
    p.set_unusable_password()
    p.save()
    return p


def other_resident(world: Any, phone: str = "13700002222") -> Person:
    p = Person(name="外区居民", community=world.other_community, household=world.other_household)
    p.set_phone(phone)
    p.set_unusable_password()
    p.save()
    return p
