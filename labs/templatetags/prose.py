"""Template filters for short prose written in the lab documents (descriptions)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.filter
def inline_code(text: str) -> str:
    """Escape `text` and show its `backticked` words as code, as Markdown would."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # a backtick left open stays a backtick
        pieces[-2:] = [f"{pieces[-2]}`{pieces[-1]}"]
    parts = (format_html("<code>{}</code>", p) if i % 2 else p for i, p in enumerate(pieces))  # p: escaped
    return format_html_join("", "{}", ((part,) for part in parts))
