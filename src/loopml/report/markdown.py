r"""The small Markdown of model cards as HTML: headings, lists, tables, bold and code.

Examples
--------
>>> str(markdown_html("# Card\n\n- **bold** and `code`"))
"<h3 class='lm-md-h'>Card</h3>\n<ul><li><strong>bold</strong> and <code>code</code></li></ul>"
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

__all__ = ["markdown_html"]


def _inline(text: str) -> str:
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)


def markdown_html(md: str) -> Markup:
    """The small Markdown of model cards (headings, lists, tables, bold, code) as HTML."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 3)
            out.append(
                f"<h{level + 2} class='lm-md-h'>{_inline(line.lstrip('#').strip())}</h{level + 2}>"
            )
            i += 1
        elif line.lstrip().startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].lstrip().startswith(("- ", "* ")):
                items.append(f"<li>{_inline(lines[i].lstrip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            head, body = rows[0], rows[1:]
            html = "<div class='lm-table-wrap'><table class='lm-table'><thead><tr>"
            html += "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
            for r in body:
                html += "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
            out.append(html + "</tbody></table></div>")
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not lines[i].lstrip().startswith(("#", "- ", "* ", "|"))
            ):
                para.append(_inline(lines[i].strip()))
                i += 1
            out.append("<p>" + " ".join(para) + "</p>")
    return Markup("\n".join(out))
