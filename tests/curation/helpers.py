"""Small input writers for tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def write_jsonl(path: Path, records: list) -> Path:
    with open(path, "wb") as f:
        for r in records:
            f.write(r if isinstance(r, bytes) else (json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def html_page(body: str, title: str = "כותרת") -> str:
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (
        f'<html dir="rtl" lang="he"><head><title>{title}</title></head><body>'
        f'<nav><a href="/">ראשי</a> <a href="/news">חדשות</a></nav>'
        f"<article><h1>{title}</h1>{paras}</article><footer>כל הזכויות שמורות</footer></body></html>"
    )


def write_warc(path: Path, pages: list[tuple[str, str, str]]) -> Path:
    """pages: (url, html, charset). Returns the gzipped WARC path."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, html, charset in pages:
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", f"text/html; charset={charset}")], protocol="HTTP/1.1"
            )
            rec = writer.create_warc_record(
                url, "response", payload=io.BytesIO(html.encode(charset)), http_headers=headers
            )
            writer.write_record(rec)
    return path


def near_copy(text: str, k: int) -> str:
    """The text with one word of its last paragraph changed (the k-th from the end but 3): a near-duplicate
    (5-gram Jaccard well above 0.8)."""
    words = text.split(" ")
    words[-3 - k] = "בעיקר"
    return " ".join(words)
