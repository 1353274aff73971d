"""Student Markdown to HTML that cannot run anything: raw HTML escaped, links inert, no outside images.

A written answer is text the student controls, shown to a grader in a browser. With mistune (installed
with nbconvert) it is rendered as Markdown with ``escape=True`` (every ``<tag>`` becomes text), links
become their text followed by the address in plain text, and an image is shown only when it is one of
the cell's own attachments (a PNG, JPEG or GIF carried inside the notebook), embedded as a data URI;
any other image is its alt text and address as text, never fetched. Without mistune the answer is
shown as escaped preformatted text. The pages also forbid scripts and outside loads with a
Content-Security-Policy (:data:`CSP`), a second lock should a rendering bug ever let a tag through.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Mapping
from typing import Any

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8"}
MAX_IMAGE_BYTES = 8 * 2**20  # a larger embedded image is not shown


def data_uri(mime: str, payload: Any) -> str | None:
    """A ``data:`` URI of a base64 image payload when it really is an image of ``mime``, else None."""
    if mime not in IMAGE_TYPES or not isinstance(payload, (str, list)):
        return None
    text = "".join(payload) if isinstance(payload, list) else payload
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) > MAX_IMAGE_BYTES or not raw.startswith(IMAGE_TYPES[mime]):
        return None
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def attachment_uri(attachments: Mapping[str, Any] | None, url: str) -> str | None:
    """The data URI of ``attachment:NAME`` among a Markdown cell's ``attachments``, else None."""
    if not url.startswith("attachment:") or not isinstance(attachments, Mapping):
        return None
    bundle = attachments.get(url[len("attachment:") :])
    if not isinstance(bundle, Mapping):
        return None
    for mime, payload in bundle.items():
        if (uri := data_uri(str(mime), payload)) is not None:
            return uri
    return None


def _renderer(attachments: Mapping[str, Any] | None) -> Any:
    import mistune

    class InertRenderer(mistune.HTMLRenderer):
        """HTML renderer that escapes raw HTML, shows links as text and images only from attachments."""

        def link(self, text: str, url: str, title: str | None = None) -> str:
            shown = html.escape(url)
            return (
                f"{text} <span class='url'>&lt;{shown}&gt;</span>"
                if url and html.unescape(text) != url
                else f"<span class='url'>{shown}</span>"
            )

        def image(self, text: str, url: str, title: str | None = None) -> str:
            uri = attachment_uri(attachments, url)
            if uri is None:
                return f"<span class='blocked'>[image not shown: {text} &lt;{html.escape(url)}&gt;]</span>"
            return f"<img alt='{html.escape(text, quote=True)}' src='{uri}'>"

    return InertRenderer(escape=True)


def render(text: str, attachments: Mapping[str, Any] | None = None) -> str:
    """``text`` (Markdown written by anyone) as HTML that holds no tag, link or outside image of its own."""
    try:
        import mistune
    except ImportError:  # nbconvert brings mistune; without it, the text as it is
        return f"<pre class='plain'>{html.escape(text)}</pre>"
    markdown = mistune.create_markdown(escape=True, renderer=_renderer(attachments), plugins=["table", "strikethrough"])
    return str(markdown(text))
