"""Language identification with fastText lid.176, loaded from the local file that set-up installs.

datatrove's `LanguageFilter` downloads its model at run time; here its `FastTextLID` predictor is given
the compressed `lid.176.ftz` from the virtualenv instead (nothing is fetched). Hebrew documents whose
`he` score reaches the threshold are kept; everything else is dropped as `language:<label>` (e.g.
`language:yi`, `language:ar`, `language:en`) or `language:he_low_score`. A text fastText cannot take (one
holding a lone surrogate, which UTF-8 cannot encode) is dropped as `language:unscorable`.

The default threshold is calibrated for lid.176 (FineWeb-2's 0.9 was set for GlotLID); see
`benchmarks/calibrate_lid.py` and the README for how it was chosen.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.lid import FastTextLID
from loguru import logger

from curation.config import LanguageConfig

LID_ENV = "HEBATRON_LID_MODEL"


def scorable(text) -> bool:
    """Whether fastText can take `text`: a string that encodes as UTF-8."""
    if not isinstance(text, str):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lid_model_path() -> Path:
    """Where the lid.176 model lives: $HEBATRON_LID_MODEL, else the virtualenv's share/hebatron/."""
    env = os.environ.get(LID_ENV)
    path = Path(env) if env else Path(sys.prefix) / "share" / "hebatron" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(
            f"fastText language-ID model not found at {path}. Run `make setup` (or "
            f"`bash scripts/setup_assets.sh <venv>`), or point ${LID_ENV} at a lid.176 .ftz/.bin file."
        )
    return path


@lru_cache(maxsize=4)
def _load_model(path: str, mtime_ns: int):
    """The fastText model at PATH (as of MTIME_NS), loaded once per process (datatrove runs each task on a fresh
    copy of the steps, which would load it again)."""
    from fasttext.FastText import _FastText

    return _FastText(path)


class LocalFT176(FastTextLID):
    """datatrove's fastText predictor reading a local model file."""

    def __init__(self, model_path: str | Path, languages: list[str] | None = None, k: int = 5):
        super().__init__(languages, k=k)
        self.model_path = str(model_path)

    @property
    def model(self):
        if self._model is None:
            self._model = _load_model(self.model_path, os.stat(self.model_path).st_mtime_ns)
        return self._model

    def __getstate__(self):  # the loaded model is not picklable; workers reload it
        return {**self.__dict__, "_model": None}


class LanguageID(BaseFilter):
    """Labels every document (`lang`, `lang_score`) and keeps the config's `keep` labels at or above its
    `threshold`."""

    name = "🌍 Language ID (lid.176)"

    def __init__(
        self,
        config: LanguageConfig | None = None,
        *,
        model_path: str | Path | None = None,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer)
        config = config or LanguageConfig()
        self.keep = tuple(config.keep)
        self.threshold = config.threshold
        self.prefix_chars = config.prefix_chars
        self.prefix_margin = config.prefix_margin
        self.predictor = LocalFT176(model_path or lid_model_path())

    def predict(self, text: str) -> tuple[str, float, dict[str, float]]:
        doc = Document(text=text, id="")
        (lang, score), pairs = self.predictor.predict(doc)
        return lang, float(score), pairs

    def prefix(self, text: str) -> str | None:
        """The text's first `prefix_chars` characters, cut at a space; None when that is the whole text."""
        if self.prefix_chars is None or len(text) <= self.prefix_chars:
            return None
        cut = text.rfind(" ", 0, self.prefix_chars)
        return text[: cut if cut > 0 else self.prefix_chars]

    def scores(self, text: str) -> tuple[str, float, dict[str, float]]:
        """`predict` on the prefix, or on the whole text when the prefix's best kept score is near the threshold."""
        prefix = self.prefix(text)
        if prefix is not None:
            lang, score, pairs = self.predict(prefix)
            if all(abs(pairs.get(k, 0.0) - self.threshold) > self.prefix_margin for k in self.keep):
                return lang, score, pairs
        return self.predict(text)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not scorable(doc.text):
            logger.debug(f"{doc.id}: text fastText cannot score; dropped")
            return False, "language:unscorable"
        lang, score, pairs = self.scores(doc.text)
        kept_scores = {k: pairs.get(k, 0.0) for k in self.keep}
        best_kept = max(kept_scores, key=kept_scores.get)
        if kept_scores[best_kept] >= self.threshold:
            lang, score = best_kept, kept_scores[best_kept]
        doc.metadata["lang"] = lang
        doc.metadata["lang_score"] = score
        if lang in self.keep and score >= self.threshold:
            return True
        if lang in self.keep:
            return False, f"language:{lang}_low_score"
        return False, f"language:{lang}"
