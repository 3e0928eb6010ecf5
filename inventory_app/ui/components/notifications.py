"""Wraps the browser-side notification centre (notification_center.jsx) as a Reflex component."""

from __future__ import annotations

import reflex as rx


class NotificationCenter(rx.NoSSRComponent):
    """Bell, panel, toasts and connection indicator, fed by EventSource on the SSE endpoint."""

    library = rx.asset("notification_center.jsx", shared=True).importable_path
    tag = "NotificationCenter"

    stream_url: rx.Var[str]
    recent_url: rx.Var[str]


def notification_center() -> rx.Component:
    return NotificationCenter.create(
        stream_url="/api/notifications/stream",
        recent_url="/api/notifications/recent?limit=30",
    )
