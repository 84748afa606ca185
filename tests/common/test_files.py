from __future__ import annotations

import hashlib
import json
import os

import pytest

from common.files import (
    InputError,
    RunLocked,
    atomic_write,
    expand_files,
    file_sha256,
    run_lock,
    staging_dir,
    swap_into_place,
    write_json_atomic,
)


def test_file_sha256(tmp_path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 100_000)
    assert file_sha256(path) == hashlib.sha256(b"abc" * 100_000).hexdigest()


def test_atomic_write_replaces_only_on_success(tmp_path) -> None:
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("half written")
        raise RuntimeError("crash")
    assert json.loads(path.read_text()) == {"a": 1}  # the old content survives
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left behind


def test_atomic_write_binary_and_mode_check(tmp_path) -> None:
    with atomic_write(tmp_path / "b", "wb") as fh:
        fh.write(b"\x00\x01")
    assert (tmp_path / "b").read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError, match="mode"), atomic_write(tmp_path / "c", "a"):
        pass


def test_staging_and_swap(tmp_path) -> None:
    final = tmp_path / "shards"
    final.mkdir()
    (final / "old.txt").write_text("old")
    (tmp_path / f".shards.tmp-{os.getpid() + 1}").mkdir()  # a crashed run's left-over
    with staging_dir(tmp_path, "shards") as tmp:
        (tmp / "new.txt").write_text("new")
        swap_into_place(tmp, final)
    assert [p.name for p in final.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shards"]


def test_run_lock_refuses_a_second_holder(tmp_path) -> None:
    with run_lock(tmp_path / "run"):
        with pytest.raises(RunLocked, match="in use by another hebatron command"), run_lock(tmp_path / "run"):
            pass
    with run_lock(tmp_path / "run"):  # released
        pass


def test_expand_files(tmp_path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.jsonl", "d/sub/a.JSONL", "d/skip.txt", "c.parquet"):
        (tmp_path / name).write_text("x")
    found = expand_files([tmp_path / "d", tmp_path / "c.parquet", tmp_path / "d"], (".jsonl", ".parquet"))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["d/b.jsonl", "d/sub/a.JSONL", "c.parquet"]
    with pytest.raises(InputError, match="anchor file not found: .*nope"):
        expand_files([tmp_path / "nope"], (".jsonl",), what="anchor file")
    with pytest.raises(InputError, match=r"skip.txt: unsupported input \(expected one of .jsonl\)"):
        expand_files([tmp_path / "d" / "skip.txt"], (".jsonl",))
    (tmp_path / "empty").mkdir()
    assert expand_files([tmp_path / "empty"], (".jsonl",)) == []
    with pytest.raises(InputError, match="empty: anchor folder holds no .jsonl files"):
        expand_files([tmp_path / "empty"], (".jsonl",), empty_folder="anchor folder")
