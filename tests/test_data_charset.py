# SPDX-License-Identifier: Apache-2.0
import pytest

from tao_ocrnet.data.charset import charset_hash, load_charset
from tao_ocrnet.errors import DataError


def _write(tmp_path, data: bytes):
    p = tmp_path / "chars.txt"
    p.write_bytes(data)
    return p


def test_one_char_per_line(tmp_path):
    assert load_charset(_write(tmp_path, b"a\nb\nc\n")) == ("a", "b", "c")


def test_bom_blank_lines_and_crlf(tmp_path):
    p = _write(tmp_path, "\ufeffa\r\n\r\n  b  \n\n\nc".encode())
    assert load_charset(p) == ("a", "b", "c")


def test_multi_char_line_adds_each_char_in_order(tmp_path):
    assert load_charset(_write(tmp_path, b"ab\nc\n")) == ("a", "b", "c")


def test_space_inside_line_is_kept_but_ends_stripped(tmp_path):
    # PyTorch semantics: strip, then every character (an inner space too) is a class.
    assert load_charset(_write(tmp_path, b" a b \n")) == ("a", " ", "b")


def test_unicode(tmp_path):
    assert load_charset(_write(tmp_path, "é\n中\n".encode())) == ("é", "中")


@pytest.mark.parametrize("data", [b"a\nb\na\n", b"ab\nb\n"])
def test_duplicates_rejected(tmp_path, data):
    with pytest.raises(DataError, match=r"dataset\.character_list_file.*'a'|'b'"):
        load_charset(_write(tmp_path, data))


def test_duplicate_message_names_key_and_lines(tmp_path):
    with pytest.raises(DataError) as exc:
        load_charset(_write(tmp_path, b"a\nb\na\n"))
    assert "dataset.character_list_file" in str(exc.value)
    assert "line 3" in str(exc.value)


def test_missing_and_empty(tmp_path):
    with pytest.raises(DataError, match=r"character_list_file.*does not exist"):
        load_charset(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no characters"):
        load_charset(_write(tmp_path, "\ufeff\n  \n".encode()))
    with pytest.raises(DataError, match=r"not UTF-8"):
        load_charset(_write(tmp_path, b"\xff\xfe\x00"))


def test_hash_depends_on_order():
    assert charset_hash(("a", "b")) == charset_hash(["a", "b"])
    assert charset_hash(("a", "b")) != charset_hash(("b", "a"))
    assert len(charset_hash(("a",))) == 64
