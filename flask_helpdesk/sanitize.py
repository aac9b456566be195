"""HTML sanitizing with nh3: the only way HTML from outside reaches a page."""

from __future__ import annotations

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


def clean_html(html: str, allow_remote_images: bool = False) -> str:
    """Keep harmless formatting; drop scripts, event handlers, styles and (by default) images
    that would load from a remote server and tell the sender the mail was read."""

    def drop_remote_images(element: str, attribute: str, value: str) -> str | None:
        if element == "img" and attribute == "src":
            if value.startswith(("cid:", "data:image/")):
                return value
            return value if allow_remote_images else None
        return value

    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=drop_remote_images,
    )
