"""One Markdown table cell from any quoted value, safe as GitHub Markdown and HTML.

A value quoted from params.yaml, metadata.csv or a git ref is data, not markup: on
GitHub `<!--` would hide the rest of a comment and a backtick would open a code span
(both written as HTML entities), and `@name` would ping a person (a zero-width space
after the `@` breaks GitHub's mention pattern; an entity would be decoded first).
"""

import html

LIMIT = 60  # the project's rule: at most 60 characters of a quoted value


def cell(value: object, width: int | None = LIMIT) -> str:
    """`value` as one table cell: one line, at most `width` characters of it (all
    where None), with `|`, backticks, `<`, `>`, `&` and `@` unable to act as markup."""
    text = " ".join(str(value).splitlines()).strip()
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    text = html.escape(text, quote=False)
    return text.replace("|", "\\|").replace("`", "&#96;").replace("@", "@\u200b")
