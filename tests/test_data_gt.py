# SPDX-License-Identifier: Apache-2.0
import pytest

from tao_ocrnet.data.gt import GtEntry, parse_gt_file, parse_gt_line
from tao_ocrnet.errors import DataError


def test_tab_and_whitespace_split():
    assert parse_gt_line("a.jpg\tHello World\n") == ("a.jpg", "Hello World")
    assert parse_gt_line("a.jpg   hello  \r\n") == ("a.jpg", "hello")
    assert parse_gt_line("dir/a b.jpg\tx") == ("dir/a b.jpg", "x")  # TAB wins over spaces
    assert parse_gt_line("   \n") is None
    assert "no label" in parse_gt_line("a.jpg")
    assert "no label" in parse_gt_line("a.jpg\t  ")


def test_file_with_bom_blank_and_bad_lines(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_bytes(
        "\ufeffa.jpg\tfoo\n\nb.jpg bar\nlonely\nc.jpg\t\n\xff\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff")
    )
    res = parse_gt_file(p)
    assert res.entries == [GtEntry(1, "a.jpg", "foo"), GtEntry(3, "b.jpg", "bar")]
    assert [b.line_no for b in res.bad_lines] == [4, 5, 6]
    assert "no label" in res.bad_lines[0].reason
    assert "UTF-8" in res.bad_lines[2].reason


def test_missing_file_names_key(tmp_path):
    with pytest.raises(DataError, match=r"dataset.train_gt_file"):
        parse_gt_file(tmp_path / "none.txt", key="dataset.train_gt_file")
