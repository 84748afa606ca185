"""The tokenizer interface: the trained bilingual BPE, a user's tokenizer.json, a SentencePiece model."""

from __future__ import annotations

import json
import shutil

import pytest

from shards.tokenizer import EOD_TOKEN, TextTokenizer, TokenizerError, load_tokenizer, train_bpe


@pytest.fixture(scope="session")
def english(anchors) -> list[str]:
    return [json.loads(line)["text"] for line in anchors.read_text(encoding="utf-8").splitlines()]


def test_trained_bpe(tmp_path, news_docs, english) -> None:
    texts = news_docs + english
    tok = train_bpe(iter(texts), tmp_path / "a" / "tokenizer.json", vocab_size=4000, name="t")
    again = train_bpe(iter(texts), tmp_path / "b" / "tokenizer.json", vocab_size=4000, name="t")
    assert isinstance(tok, TextTokenizer)
    assert tok.sha256 == again.sha256, "same texts, same tokenizer"
    assert (tok.eod_id, tok.eod_token, tok.vocab_size, tok.kind) == (0, EOD_TOKEN, 4000, "hf-tokenizers")
    ids = tok.encode_batch(["שלום עולם", f"text with {EOD_TOKEN} inside"])
    assert tok.eod_id not in ids[0] + ids[1], "special-token strings in text are plain text"
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(tok.path))
    assert raw.decode(ids[1]) == f"text with {EOD_TOKEN} inside"  # byte-level: lossless
    # Hebrew words cost more tokens than English ones, but not absurdly many
    he = sum(map(len, tok.encode_batch(news_docs))) / sum(len(d.split()) for d in news_docs)
    en = sum(map(len, tok.encode_batch(english))) / sum(len(d.split()) for d in english)
    assert 1.0 < he < 3.0 and 1.0 < en < 3.0


def test_user_tokenizer_json(tmp_path, sharded) -> None:
    run, manifest = sharded
    user = tmp_path / "my-bpe" / "tokenizer.json"
    user.parent.mkdir()
    shutil.copyfile(run / "tokenizer" / "tokenizer.json", user)
    tok = load_tokenizer(user)
    assert tok.name == "my-bpe" and tok.sha256 == manifest["tokenizer"]["sha256"]


def test_tokenizer_json_without_end_of_document_token(tmp_path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel()
    raw.train_from_iterator(["hello world"] * 10, trainers.BpeTrainer(vocab_size=300, show_progress=False))
    raw.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(TokenizerError, match=r"tokenizer.json: no end-of-document token .*<\|endoftext\|>"):
        load_tokenizer(tmp_path / "tokenizer.json")


def test_sentencepiece_model(reference_lm) -> None:
    tok = load_tokenizer(reference_lm / "sp.model")
    assert tok.kind == "sentencepiece" and tok.eod_token == "</s>" and tok.vocab_size == 8000
    ids = tok.encode_batch(["שלום עולם", "a </s> b"])
    assert ids[0] and tok.eod_id not in ids[0] + ids[1]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.json", None, "tokenizer not found"),
        ("vocab.txt", b"x", "unknown tokenizer kind"),
        ("broken.json", b"{not json", "not a readable HF tokenizer.json"),
        ("broken.model", b"not a model", "not a readable SentencePiece model"),
    ],
)
def test_bad_tokenizer_files(tmp_path, name, content, message) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(TokenizerError, match=message):
        load_tokenizer(tmp_path / name)
