"""Previous/Next page controls with a "Page X of Y" label."""

from __future__ import annotations

from typing import Any

import reflex as rx


def pagination(
    label: rx.Var[str],
    has_previous: rx.Var[bool],
    has_next: rx.Var[bool],
    on_previous: Any,
    on_next: Any,
    *,
    region_label: str,
) -> rx.Component:
    return rx.el.nav(
        rx.flex(
            rx.button("Previous", on_click=on_previous, disabled=~has_previous, variant="soft", size="2"),
            rx.text(label, size="2", aria_live="polite"),
            rx.button("Next", on_click=on_next, disabled=~has_next, variant="soft", size="2"),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        aria_label=region_label,
    )
