"""The look of the UI: shared sizes, colours and style dicts, in one place."""

from __future__ import annotations

from typing import Any

PAGE_MAX_WIDTH = "1200px"
LOW_STOCK_ROW_BACKGROUND = "var(--amber-3)"
ERROR_COLOR = "var(--red-11)"
MUTED_COLOR = "var(--gray-11)"

page_container: dict[str, Any] = {
    "max_width": PAGE_MAX_WIDTH,
    "width": "100%",
    "margin_x": "auto",
    "padding_x": ["0.75em", "1em", "1.5em"],
    "padding_y": "1em",
}

header_bar: dict[str, Any] = {
    "width": "100%",
    "border_bottom": "1px solid var(--gray-5)",
    "background": "var(--color-panel-solid)",
    "padding_x": ["0.75em", "1em", "1.5em"],
    "padding_y": "0.75em",
}

# Tables scroll inside their own box so the page itself never scrolls sideways on a phone.
table_scroll: dict[str, Any] = {
    "width": "100%",
    "overflow_x": "auto",
    "border": "1px solid var(--gray-5)",
    "border_radius": "var(--radius-3)",
}

field_error: dict[str, Any] = {"color": ERROR_COLOR, "font_size": "0.85em"}

native_select: dict[str, Any] = {
    "height": "var(--space-6)",
    "padding_x": "0.5em",
    "border": "1px solid var(--gray-7)",
    "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font_size": "var(--font-size-2)",
}

upload_area: dict[str, Any] = {
    "border": "1px dashed var(--gray-8)",
    "border_radius": "var(--radius-3)",
    "padding": "1.25em",
    "cursor": "pointer",
    "width": "100%",
}

# Read by screen readers (and role-based test locators) but not drawn: used for table captions.
visually_hidden: dict[str, Any] = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "padding": "0",
    "margin": "-1px",
    "overflow": "hidden",
    "clip": "rect(0, 0, 0, 0)",
    "white_space": "nowrap",
    "border": "0",
}
