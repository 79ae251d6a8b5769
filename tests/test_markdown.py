"""markdown.cell: a quoted value cannot act as Markdown or HTML (issue 30 item 4)."""

import markdown_it
import pytest

from hw2.pipeline.markdown import LIMIT, cell


def test_plain_values_are_unchanged():
    assert cell("0.3125") == "0.3125"
    assert cell(0.01) == "0.01"
    assert cell("LJ001-0001") == "LJ001-0001"


def test_comment_mention_and_code_span_are_inert():
    out = cell("https://example.org/a`b<!-- @someone")
    assert "<" not in out and "`" not in out and "@s" not in out
    assert out == "https://example.org/a&#96;b&lt;!-- @\u200bsomeone"


@pytest.mark.parametrize("sep", ["\n", "\r\n", "\u2028", "\u0085", "\x0b"])
def test_one_line(sep):
    assert cell(f"a{sep}b") == "a b"


def test_pipe_stays_in_its_cell():
    assert cell("a|b") == "a\\|b"


def test_html_is_text():
    assert cell("x</script><b>&") == "x&lt;/script&gt;&lt;b&gt;&amp;"


def test_long_values_are_cut():
    out = cell("x" * 100_000)
    assert out == "x" * (LIMIT - 1) + "…"
    # the cut comes before escaping, so no entity is cut in half
    assert cell("<" * 100).endswith("&lt;…")


def test_width_sets_the_cut_and_none_keeps_all():
    assert cell("x" * 100, 10) == "x" * 9 + "…"
    assert cell("x" * 100 + "|", None) == "x" * 100 + "\\|"


def test_rendered_row_keeps_its_cells():
    """GitHub's Markdown (CommonMark + tables): the row keeps two cells and the
    value shows as the text it was."""
    value = "a|b`c<!-- @x\nd"
    md = f"| k | v |\n|---|---|\n| {cell('k')} | {cell(value)} |\n"
    out = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    assert out.count("<td>") == 2
    assert "<!--" not in out and "<code>" not in out
    assert "a|b`c&lt;!-- @\u200bx d" in out
