"""Legacy Hebrew encodings: browser charset labels, and visual-order (reversed) Hebrew restored or excluded."""

from __future__ import annotations

import io
import json
import re

import duckdb
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curation.charsets import python_codec
from curation.config import VisualOrderConfig
from curation.readers import declared_charset, decode_html
from curation.run import curate
from curation.visual import VisualOrder, to_logical, visual_score
from tests.curation.visual_pages import calibrate, page_set, render_visual, visual_page

# the case the restoration cannot tell apart (see curation/visual.py): a number, then a Latin word
AMBIGUOUS = re.compile(r"\d[^\w\u05d0-\u05ea]*[A-Za-z]|[A-Za-z][^\w\u05d0-\u05ea]*[^\s\w]\s*\d")
HEBREW = "מחצית האוכלוסייה היא רוסית, תוצאה של מאות שנים."


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "label",
    ["iso-8859-8-i", "ISO-8859-8-I", "iso-8859-8-e", "iso_8859-8", "iso_8859-8:1988", "csISOLatinHebrew",
     "hebrew", "logical", "visual", "csiso88598i", "iso88598", "windows-1255", "x-cp1255"],
)  # fmt: skip
def test_hebrew_charset_labels_decode(label):
    payload = f"<html><body><p>{HEBREW}</p></body></html>".encode("iso-8859-8")
    for content_type, html in ((f"text/html; charset={label}", payload), ("text/html", b"")):
        if not html:  # the same label in a <meta> tag
            html = f'<html><head><meta charset="{label}"></head><body><p>{HEBREW}</p></body></html>'.encode(
                "iso-8859-8"
            )
        charset = declared_charset(content_type, html)
        assert charset == label.lower()
        text, used = decode_html(html, charset)
        assert HEBREW in text and used == charset


def test_unknown_label_falls_back_to_utf8():
    assert python_codec("no-such-charset") is None and python_codec(None) is None
    assert decode_html(HEBREW.encode(), "no-such-charset") == (HEBREW, "utf-8")


@pytest.fixture(scope="module")
def split_sentences(htb_train):
    """Calibration and evaluation sentences: two disjoint stretches of the HTB train split."""
    return htb_train[:2400], htb_train[2400:]


def test_threshold_calibrated_on_one_set_holds_on_another(split_sentences):
    calibration, evaluation = split_sentences
    pages = page_set(calibration, seed=0, n=1000)
    logical = [visual_score(t) for t in pages]
    visual = [visual_score(visual_page(t)) for t in pages]
    threshold, min_evidence = calibrate(logical, visual)
    config = VisualOrderConfig()
    assert config.min_evidence >= min_evidence
    top = max(s for s, e in logical if e >= config.min_evidence)
    bottom = min(s for s, e in visual if e >= config.min_evidence)
    assert top < config.threshold < bottom and abs(config.threshold - threshold) < 0.1

    step = VisualOrder(config)
    tp = fp = fn = 0
    for seed in (1, 2):
        for t in page_set(evaluation, seed=seed, n=500):
            fp += step.is_visual(t)
            flagged = step.is_visual(visual_page(t))
            tp, fn = tp + flagged, fn + (not flagged)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.995 and recall >= 0.98, (precision, recall)


def test_restoring_inverts_the_rendering(split_sentences):
    _, evaluation = split_sentences
    pages = page_set(evaluation, seed=3, n=600)
    clear = [t for t in pages if not AMBIGUOUS.search(t)]
    assert len(clear) >= 100
    assert [to_logical(visual_page(t)) for t in clear] == clear
    # brackets mirror, numbers and Latin runs keep their order
    line = "הוא אמר (בשנת 1995) כי 2,000 איש ו-50% מהם קראו את the New York Times ביום 12:30."
    assert render_visual(line) != line[::-1] and to_logical(render_visual(line)) == line


def test_step_restores_visual_and_excludes_mixed_pages(split_sentences):
    _, evaluation = split_sentences
    page = next(t for t in page_set(evaluation, seed=4, n=50) if t.count("\n") >= 2 and not AMBIGUOUS.search(t))
    step = VisualOrder()
    from datatrove.data import Document

    logical, visual = Document(text=page, id="l"), Document(text=visual_page(page), id="v")
    assert step.filter(logical) is True and "visual_order" not in logical.metadata
    assert step.filter(visual) is True and visual.text == page and visual.metadata["visual_order"] == "restored"
    lines = page.split("\n")
    mixed = Document(text="\n".join(render_visual(x) if i % 2 == 0 else x for i, x in enumerate(lines)), id="m")
    assert step.filter(mixed) is True and mixed.text == page  # visual and logical lines: each restored
    tangled = Document(text=tangled_page(page), id="t")
    assert step.filter(tangled) == (False, "reader:visual_order")
    assert tangled.metadata["visual_order"] == "unrestorable"
    assert step.filter(Document(text=visual_page(page), id="off")) is True  # a second page counts too
    assert step.stats["visual_order_restored"].total == 3
    assert VisualOrder(VisualOrderConfig(enabled=False)).filter(Document(text=visual_page(page), id="x")) is True


def tangled_page(text: str) -> str:
    """Each line half visual and half logical (two cells of a table layout run together): not restorable."""
    out = []
    for line in text.split("\n"):
        words = line.split()
        half = len(words) // 2
        out.append(render_visual(" ".join(words[:half])) + " " + " ".join(words[half:]))
    return "\n".join(out)


def _page(title: str, body: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paras}</article></body></html>"


def test_legacy_pages_through_the_pipeline(tmp_path, htb_train):
    docs = []
    for start in range(3000, 3000 + 40 * 12, 12):
        sents = htb_train[start : start + 12]
        body = "\n".join(" ".join(sents[i : i + 4]) for i in range(0, 12, 4))
        if not AMBIGUOUS.search(body):
            docs.append(body)
    docs = docs[:20]
    kinds = ["windows-1255", "iso-8859-8-i", "iso-8859-8", "mixed", "tangled"] * 4
    warc = tmp_path / "legacy.warc.gz"
    with open(warc, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, (body, kind) in enumerate(zip(docs, kinds, strict=True)):
            title = "דיווח מהכתבים שלנו"
            if kind == "iso-8859-8":
                title, body_out = render_visual(title), visual_page(body)
            elif kind == "mixed":  # one logical paragraph among visual ones
                lines = body.split("\n")
                body_out = "\n".join(render_visual(x) if j != 1 else x for j, x in enumerate(lines))
            elif kind == "tangled":
                body_out = tangled_page(body)
            else:
                body_out = body
            charset = "iso-8859-8" if kind in ("mixed", "tangled") else kind
            headers = StatusAndHeaders("200 OK", [("Content-Type", f"text/html; charset={charset}")], "HTTP/1.1")
            payload = io.BytesIO(_page(title, body_out).encode(python_codec(charset)))
            writer.write_record(
                writer.create_warc_record(f"https://old.example/{kind}/{i}", "response", payload, http_headers=headers)
            )
    run = tmp_path / "run"
    stats = curate([warc], run)
    assert stats["input_documents"] == len(docs)
    con = duckdb.connect()
    curated = dict(con.sql(f"SELECT url, text FROM read_parquet('{run}/curated/*.parquet')").fetchall())
    excluded = dict(con.sql(f"SELECT url, filter_reason FROM read_parquet('{run}/excluded/*.parquet')").fetchall())
    assert len(curated) + len(excluded) == len(docs)
    for i, (body, kind) in enumerate(zip(docs, kinds, strict=True)):
        url = f"https://old.example/{kind}/{i}"
        if kind == "tangled":
            assert excluded.get(url) == "reader:visual_order"
        else:
            assert url in curated, (kind, excluded.get(url))
            assert _squash(body) in _squash(curated[url])
            assert _squash(curated[url]).startswith("דיווח מהכתבים שלנו")
    steps = json.loads((run / "step_stats.json").read_text())
    step = next(s for s in steps if s["stage"] == "filter" and "Visual-order" in s["step"])
    counters = json.loads(step["counters"])
    assert counters["visual_order_restored"] == kinds.count("iso-8859-8") + kinds.count("mixed")
    assert counters["dropped_reader:visual_order"] == kinds.count("tangled")
