"""HTML of job descriptions: sanitising (ammonia, through ``nh3``) and the plain text derived from it.

A posting's description is text from outside (an imported file, a partner's job): it is kept only as
sanitised HTML (for export and the dashboard) and shown in terminals as plain text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

# ---------------------------------------------------------------- HTML sanitising

# What a job description needs, and nothing that runs or loads: no script, style, img, iframe, form,
# no attributes but a link's href (http, https, mailto), links marked rel="noopener nofollow".
ALLOWED_TAGS = frozenset({"p", "br", "hr", "ul", "ol", "li", "dl", "dt", "dd", "strong", "em", "b", "i", "u", "s", "sub",
                          "sup", "small", "span", "div", "blockquote", "pre", "code", "a", "h1", "h2", "h3", "h4", "h5",
                          "h6", "table", "thead", "tbody", "tr", "th", "td"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "noscript", "textarea", "select"})


def sanitize_html(markup: str) -> str:
    """``markup`` with only ``ALLOWED_TAGS`` and safe links left, by ammonia (nh3), a maintained
    sanitiser: hand-written stripping misses the parser's corner cases (issue 12 item 1)."""
    return nh3.clean(markup, tags=set(ALLOWED_TAGS), clean_content_tags=set(_DROPPED_WITH_CONTENT),
                     attributes={"a": {"href"}}, url_schemes=set(URL_SCHEMES), link_rel="noopener nofollow",
                     strip_comments=True)


class _MarkupCensus(HTMLParser):
    """Which tags, attributes and link schemes of a description the sanitiser will drop (for the report)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dropped: dict[str, None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.dropped[f"<{tag}>"] = None
        for name, value in attrs:
            if tag == "a" and name == "rel":
                continue  # rewritten (noopener nofollow), not dropped
            if tag != "a" or name != "href":
                self.dropped[f"{name}="] = None
            elif value and ":" in value.split("/")[0] and value.split(":")[0].strip().lower() not in URL_SCHEMES:
                self.dropped[f"{value.split(':')[0].strip().lower()}: link"] = None


def dropped_markup(markup: str) -> list[str]:
    census = _MarkupCensus()
    census.feed(markup)
    census.close()
    return list(census.dropped)


# ---------------------------------------------------------------- HTML → text


class _TextExtractor(HTMLParser):
    BLOCK = {"p", "div", "section", "article", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
             "blockquote", "pre", "header", "footer"}
    SKIP = {"script", "style", "head", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """Tags out, entities decoded, block elements as blank lines, ``<br>`` as a line break."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line.strip()) for line in p.strip().split("\n")) + "</p>" for p in paragraphs)
