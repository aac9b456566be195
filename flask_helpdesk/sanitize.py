"""HTML sanitizing with nh3: the only way HTML from outside reaches a page.

One policy, two widths. The default keeps the formatting a person types in a reply box. Mail
(``rich=True``) also keeps the table layout attributes, ``<font>`` and a few harmless inline
styles that keep a formatted mail readable. Both drop scripts, event handlers, forms, frames,
anything that makes the browser fetch something (``background=``, ``srcset=``, ``url()``) and,
by default, remote images: loading one tells the sender when and where the mail was read.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from urllib.parse import unquote

import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}

# The wider set for mail: nh3's own defaults plus layout attributes mail clients rely on.
RICH_TAGS = set(nh3.ALLOWED_TAGS) | {"font"}
RICH_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"lang", "title", "dir", "style", "align"},
    "font": {"color", "face", "size"},
    "table": {"align", "border", "cellpadding", "cellspacing", "width", "summary"},
    "td": {"align", "valign", "width", "colspan", "rowspan", "headers"},
    "th": {"align", "valign", "width", "colspan", "rowspan", "headers", "scope"},
}
RICH_STYLE_PROPERTIES = {
    "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
    "text-align", "text-decoration", "direction", "white-space", "margin", "margin-left",
    "padding", "padding-left", "border-left",
}  # fmt: skip

# Removed together with their content: nothing in them is readable text.
DROP_WITH_CONTENT = {"script", "style", "title", "iframe", "object", "embed", "svg", "math",
                     "noscript", "template", "textarea", "select"}  # fmt: skip
SAFE_LINKS = ("http://", "https://", "mailto:", "tel:", "#")
_EMBEDDED_IMAGE = re.compile(r"data:image/(png|gif|jpe?g|webp);")


# Mail's HTML nested deeper than this is cut off before it is cleaned (cut_too_deep).
# html5ever (under nh3) looks through the open elements at each tag, so its time grows with
# the square of the depth: 40,000 nested <div> took 5.6 s to clean, 200,000 over two minutes,
# at intake and at each view. Browsers stop nesting at 512 too (Blink); mail people write
# nests a few dozen deep. What is stored is cut: the views clean it without this walk.
MAX_HTML_DEPTH = 512
# A start or end tag's name ("<div/>" opens a div in HTML, as "<div>" does).
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)")
_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link"))
_VOID |= {"meta", "param", "source", "track", "wbr"}
_BLOCKS = ("address", "article", "aside", "blockquote", "center", "div", "dl", "fieldset")
_BLOCKS += ("figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr")
_BLOCKS += ("main", "menu", "nav", "ol", "pre", "section", "table", "ul")
# Start tags that first end an open element of a group (the HTML parser's handling of
# unclosed cells, rows, items and paragraphs): (the group, the elements the search stops at).
_ENDS: dict[str, tuple[set[str], set[str]]] = {
    "td": ({"td", "th"}, {"table", "tr"}),
    "th": ({"td", "th"}, {"table", "tr"}),
    "tr": ({"tr"}, {"table"}),
    "li": ({"li"}, {"ul", "ol", "menu", "table"}),
    "dt": ({"dt", "dd"}, {"dl", "table"}),
    "dd": ({"dt", "dd"}, {"dl", "table"}),
    "option": ({"option"}, {"select"}),
    **dict.fromkeys(("p", *_BLOCKS), ({"p"}, {"table", "td", "th", "button"})),
}
_NAMES = {name for group, _stops in _ENDS.values() for name in group}


def cut_too_deep(html: str) -> str:
    """*html* up to the tag that would nest deeper than :data:`MAX_HTML_DEPTH` (the open
    elements tracked as the HTML parser does for end tags and the usual unclosed elements)."""
    if html.count("<") <= MAX_HTML_DEPTH:
        return html
    stack: list[str] = []
    open_count = dict.fromkeys(_NAMES, 0)

    def close_to(depth: int) -> None:
        for popped in stack[depth:]:
            open_count[popped] -= 1
        del stack[depth:]

    for index, (closing, name) in enumerate(_TAG.findall(html)):
        name = name.lower()
        if closing:
            if stack and stack[-1] == name:
                stack.pop()
                open_count[name] -= 1
            elif open_count.get(name):  # it also closes what was left open inside it
                close_to(len(stack) - 1 - stack[::-1].index(name))
            continue
        if name in _VOID:
            continue
        ends = _ENDS.get(name)
        if ends is not None and stack:
            group, stops = ends
            if stack[-1] in group:
                close_to(len(stack) - 1)
            elif any(open_count[other] for other in group):
                for depth in range(len(stack) - 1, -1, -1):  # at most MAX_HTML_DEPTH
                    if stack[depth] in group:
                        close_to(depth)
                        break
                    if stack[depth] in stops:
                        break
        if len(stack) >= MAX_HTML_DEPTH:
            cut = next(itertools.islice(_TAG.finditer(html), index, None))
            return html[: cut.start()]
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
    return html


def content_id_key(reference: str) -> str:
    """How a ``cid:`` reference and a Content-ID are compared: unquoted, no brackets, any case."""
    return unquote(reference).strip().strip("<>").lower()


def clean_html_counting(
    html: str,
    allow_remote_images: bool = False,
    *,
    rich: bool = False,
    images: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    """:func:`clean_html`, and how many remote images it removed."""
    blocked = 0

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        lowered = value.strip().lower()
        if tag == "img" and attribute == "src":
            if images is not None and lowered.startswith("cid:"):
                # At display time a cid: image becomes the URL of the stored file; these
                # URLs are the only relative ones an image may have.
                return images.get(content_id_key(value.strip()[4:]))
            # cid: images come with the mail; data: images are embedded. Neither calls out.
            if lowered.startswith("cid:") or _EMBEDDED_IMAGE.match(lowered):
                return value.strip()
            if allow_remote_images and lowered.startswith(("http://", "https://")):
                return value.strip()
            blocked += 1
            return None
        if attribute in ("href", "cite"):
            return value.strip() if lowered.startswith(SAFE_LINKS) else None
        return value

    cleaned = nh3.clean(
        html,
        tags=RICH_TAGS if rich else ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=RICH_ATTRIBUTES if rich else ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties=RICH_STYLE_PROPERTIES if rich else None,
        strip_comments=True,
    )
    return cleaned, blocked


def clean_html(
    html: str,
    allow_remote_images: bool = False,
    *,
    rich: bool = False,
    images: Mapping[str, str] | None = None,
) -> str:
    """Keep harmless formatting; drop scripts, event handlers, styles and (by default) images
    that would load from a remote server and tell the sender the mail was read.

    *images* maps Content-IDs (see :func:`content_id_key`) to the URLs their files are
    served from: ``cid:`` images become those URLs, other ``cid:`` images are dropped.
    """
    return clean_html_counting(html, allow_remote_images, rich=rich, images=images)[0]
