"""The tokenizer that counts and writes tokens: a trained bilingual byte-level BPE, or the user's own.

One small interface (``TextTokenizer``) over HF ``tokenizers`` (``tokenizer.json``) and SentencePiece
(``.model``): ``encode_batch(texts) -> list[list[int]]`` without any special tokens, ``eod_id`` (the real
end-of-document token, appended by the caller after every document), ``vocab_size``, ``name``, ``sha256``.

``train_bpe(texts, out, vocab_size=...)`` trains the default: GPT-2-style byte-level BPE (no normalizer —
the curated text is already NFKC — so every byte round-trips) whose id 0 is ``<|endoftext|>``. Training is
deterministic for the same texts in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from common.errors import HebatronError
from common.files import file_sha256, write_text_atomic

__all__ = [
    "EOD_CANDIDATES",
    "EOD_TOKEN",
    "HFTokenizer",
    "SentencePieceTokenizer",
    "TextTokenizer",
    "TokenizerError",
    "load_tokenizer",
    "train_bpe",
]

EOD_TOKEN = "<|endoftext|>"
#: End-of-document tokens looked up, in this order, in a user's ``tokenizer.json``.
EOD_CANDIDATES = (EOD_TOKEN, "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[EOS]")


class TokenizerError(HebatronError, ValueError):
    """A tokenizer file that cannot be used (unknown kind, unreadable, no end-of-document token)."""


@runtime_checkable
class TextTokenizer(Protocol):
    name: str
    kind: str
    path: Path
    vocab_size: int
    eod_id: int
    eod_token: str
    sha256: str

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens (no BOS/EOS)."""
        ...


class HFTokenizer:
    """An HF ``tokenizers`` ``tokenizer.json``; its post-processor (BOS/EOS templates) is not applied and
    special-token strings in the text are encoded as plain text."""

    kind = "hf-tokenizers"

    def __init__(self, path: Path, name: str | None = None) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        try:
            self._tok = Tokenizer.from_file(str(self.path))
        except Exception as err:  # tokenizers raises a bare Exception on malformed JSON
            raise TokenizerError(f"{self.path}: not a readable HF tokenizer.json ({err})") from None
        # special-token strings inside a document are text, not control tokens: only the end-of-document id
        # the caller appends may mark a document boundary
        self._tok.encode_special_tokens = True
        self.name = name or (self.path.parent.name if self.path.name == "tokenizer.json" else self.path.stem)
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        for token in EOD_CANDIDATES:
            if (tid := self._tok.token_to_id(token)) is not None:
                self.eod_id, self.eod_token = tid, token
                break
        else:
            raise TokenizerError(
                f"{self.path}: no end-of-document token in the vocabulary "
                f"(looked for {', '.join(EOD_CANDIDATES)}); add one as a special token"
            )
        self.sha256 = file_sha256(self.path)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [enc.ids for enc in self._tok.encode_batch(texts, add_special_tokens=False)]


class SentencePieceTokenizer:
    """A SentencePiece ``.model``; its EOS piece ends every document."""

    kind = "sentencepiece"

    def __init__(self, path: Path, name: str | None = None) -> None:
        import sentencepiece as spm

        self.path = Path(path)
        try:
            self._sp = spm.SentencePieceProcessor(model_file=str(self.path))
        except (OSError, RuntimeError) as err:
            raise TokenizerError(f"{self.path}: not a readable SentencePiece model ({err})") from None
        self.name = name or self.path.stem
        self.vocab_size = int(self._sp.get_piece_size())
        self.eod_id = int(self._sp.eos_id())
        if self.eod_id < 0:
            raise TokenizerError(
                f"{self.path}: the SentencePiece model has no EOS piece (trained with "
                "eos_id=-1); retrain it with an EOS piece to mark document ends"
            )
        self.eod_token = self._sp.id_to_piece(self.eod_id)
        self.sha256 = file_sha256(self.path)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self._sp.encode(texts)


def load_tokenizer(path: Path) -> TextTokenizer:
    """``tokenizer.json`` → HF tokenizers; ``.model`` → SentencePiece."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(f"tokenizer not found: {path} (expected a tokenizer.json or a SentencePiece .model)")
    if path.suffix == ".json":
        return HFTokenizer(path)
    if path.suffix == ".model":
        return SentencePieceTokenizer(path)
    raise TokenizerError(f"{path}: unknown tokenizer kind (expected a tokenizer.json or a SentencePiece .model)")


def train_bpe(texts: Iterable[str], out: Path, *, vocab_size: int, name: str) -> HFTokenizer:
    """Train a byte-level BPE on ``texts`` and write it atomically to ``out`` (a ``tokenizer.json``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, tok.to_str(pretty=True))
    return HFTokenizer(out, name=name)
