"""Reflex configuration: reads the app's settings; no logic here."""

import reflex as rx

from inventory_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="inventory_app",
    frontend_port=settings.app_port,
    backend_port=settings.app_port,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
