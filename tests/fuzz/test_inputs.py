"""The readers every user file goes through (engine/inputs.py), and model paths (engine/model.py):
what is at a path, bytes that are not UTF-8, runaway nesting, lone surrogates."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.inputs import decode, lone_surrogate, parse_json_line, parse_toml, path_kind, read_text
from scoregap.engine.model import resolve_model


def test_path_kind_tells_every_case_apart(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "via").symlink_to("loop")
    kinds = {name: path_kind(tmp_path / name) for name in ("file", "dir", "loop", "dangling", "missing", "via")}
    assert kinds == {"file": "file", "dir": "directory", "loop": "loop", "dangling": "dangling",
                     "missing": "missing", "via": "loop"}
    assert path_kind(tmp_path / "loop" / "inside.toml") == "loop"
    assert path_kind(tmp_path / "file" / "inside.toml") == "missing"


def test_read_text_says_what_is_wrong_with_the_path(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to("nowhere")
    with pytest.raises(InputError, match="is a symbolic link to nowhere, which does not exist"):
        read_text(tmp_path / "dangling", "setup file")
    with pytest.raises(InputError, match="this setup file is a directory"):
        read_text(tmp_path, "setup file")


def test_decode_drops_one_bom_and_names_a_bad_byte() -> None:
    assert decode("\ufeffa = 1\n".encode(), "f") == "a = 1\n"
    assert decode("\ufeff\ufeffx".encode(), "f") == "\ufeffx"
    with pytest.raises(InputError, match=r"f, line 3: not valid UTF-8 \(byte 0xff at column 2\)"):
        decode(b"a\nb\nc\xffd\n", "f")


def test_a_toml_syntax_error_leads_with_its_line() -> None:
    with pytest.raises(InputError, match=r"^f, line 2: not valid TOML: .*\(column \d+\)"):
        parse_toml('a = 1\nb = "open\n', "f")


@pytest.mark.parametrize("text", ["[" * 5000, '{"a": ' * 5000])
def test_runaway_json_nesting_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="f, line 7: a value is nested too deeply"):
        parse_json_line(text, "f, line 7")


def test_lone_surrogates_are_found_only_where_they_are() -> None:
    assert lone_surrogate('{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}) is None
    assert lone_surrogate('{"a": ["x", {"b": "\\udc00"}]}', {"a": ["x", {"b": "\udc00"}]}) == "a[1].b"
    assert lone_surrogate('{"\\ud800": 1}', {"\ud800": 1}) == "'\\ud800'"
    assert lone_surrogate('{"a": "plain"}', {"a": "plain"}) is None


def test_a_model_path_that_is_a_file_says_so(tmp_path: Path) -> None:
    """Bug: "no such directory" for a file that exists."""
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(InputError, match="is a file, but a model is a directory holding config.json"):
        resolve_model(str(tmp_path / "model.safetensors"))


def test_a_model_path_that_is_a_symlink_loop_says_so(tmp_path: Path) -> None:
    (tmp_path / "m").symlink_to("m")
    with pytest.raises(InputError, match="symbolic link that loops"):
        resolve_model(str(tmp_path / "m"))
