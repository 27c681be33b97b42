"""The line diff between two versions, and the image check of flowcharts (pure, no database)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huzhu.core.errors import DomainError
from huzhu.documents import diff, images
from huzhu.documents.tests.support import gif_bytes, jpeg_bytes, png_bytes


def test_side_by_side_rows() -> None:
    d = diff.side_by_side("a\nb\nc", "a\nB\nc\nd", context=None)
    assert [(r.kind, r.old_no, r.old, r.new_no, r.new) for r in d.rows] == [
        ("equal", 1, "a", 1, "a"),
        ("change", 2, "b", 2, "B"),
        ("equal", 3, "c", 3, "c"),
        ("insert", None, "", 4, "d"),
    ]
    assert (d.added, d.removed) == (2, 1)


def test_long_unchanged_runs_are_folded() -> None:
    old = "\n".join(str(i) for i in range(20))
    new = old.replace("10", "十")
    d = diff.side_by_side(old, new)
    kinds = [r.kind for r in d.rows]
    assert kinds.count("change") == 1 and kinds.count("skip") == 2
    assert sum(r.skipped for r in d.rows) == 20 - 1 - 2 * diff.CONTEXT
    assert diff.side_by_side(old, old).unchanged


def test_unified() -> None:
    text = diff.unified("a\nb", "a\nc", "1.0", "2.0")
    assert text.splitlines()[:2] == ["--- 1.0", "+++ 2.0"]
    assert "-b" in text.splitlines() and "+c" in text.splitlines()


lines = st.lists(st.sampled_from(["甲", "乙", "丙", "<b>", ""]), max_size=12)


@given(lines, lines)
def test_the_rows_rebuild_both_texts(a: list[str], b: list[str]) -> None:
    old, new = "\n".join(a), "\n".join(b)
    rows = diff.side_by_side(old, new, context=None).rows
    assert [r.old for r in rows if r.old_no is not None] == old.split("\n")
    assert [r.new for r in rows if r.new_no is not None] == new.split("\n")


def test_identify_images_by_content() -> None:
    assert images.identify(png_bytes(7, 5)) == images.ImageInfo("image/png", 7, 5)
    assert images.identify(gif_bytes(3, 2)) == images.ImageInfo("image/gif", 3, 2)
    assert images.identify(jpeg_bytes(4, 3)) == images.ImageInfo("image/jpeg", 4, 3)
    good = png_bytes()
    for bad in (
        b"",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature, nothing behind it
        good[:-12],  # truncated: no end chunk
        good[:20] + b"\xff" + good[21:],  # header checksum wrong
        png_bytes(0, 1),  # no pixels
        b"\xff\xd8\xff\xd9",  # a JPEG without a frame
        b"GIF89a\x01\x00\x01\x00",  # a GIF without its trailer
    ):
        assert images.identify(bad) is None, bad[:20]


def test_check_flowchart_size_and_type(settings: object) -> None:
    assert images.check_flowchart(io.BytesIO(png_bytes())).content_type == "image/png"
    with pytest.raises(DomainError) as exc:
        images.check_flowchart(io.BytesIO(b"hello"))
    assert exc.value.code == "documents.flowchart.not_image"
    with pytest.raises(DomainError) as exc:
        images.check_flowchart(io.BytesIO(b""))
    assert exc.value.code == "documents.flowchart.empty"
    settings.HUZHU_MAX_UPLOAD_BYTES = 40  # type: ignore[attr-defined]
    with pytest.raises(DomainError) as exc:
        images.check_flowchart(io.BytesIO(png_bytes(50, 50)))
    assert exc.value.code == "documents.flowchart.too_large"
