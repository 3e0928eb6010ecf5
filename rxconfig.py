"""Reflex configuration: reads the app's settings; no logic here."""

import reflex as rx

from inventory_app.settings import allowed_origins, get_settings

settings = get_settings()

config = rx.Config(
    app_name="inventory_app",
    frontend_port=settings.app_port,
    backend_port=settings.app_port,
    # CORS and the websocket's origin check: only our own pages, never Reflex's default `*`.
    cors_allowed_origins=tuple(allowed_origins(settings)),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
