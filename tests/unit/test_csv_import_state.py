"""The import panel's state: the click's `start` and the upload reach the server by different channels
(websocket, HTTP), in either order, and the panel must end up showing the result, not "Importing…"."""

from __future__ import annotations

import asyncio

from inventory_app.ui.states.csv_import import CsvImportState


def _state() -> CsvImportState:
    return CsvImportState(_reflex_internal_init=True)


def _start(state: CsvImportState) -> None:
    CsvImportState.start.fn(state)


def _upload_nothing(state: CsvImportState) -> None:
    """The real upload handler, on its one path that needs no database: no file in the request."""

    async def drain() -> None:
        async for _ in CsvImportState.handle_upload.fn(state, []):
            pass

    asyncio.run(drain())


def test_start_then_upload_shows_the_result() -> None:
    state = _state()
    _start(state)
    assert state.importing
    _upload_nothing(state)
    assert not state.importing
    assert state.message == "Choose a CSV file first."


def test_an_upload_handled_before_its_start_keeps_its_result() -> None:
    state = _state()
    _upload_nothing(state)
    _start(state)  # arrives late: the import it announces is already done
    assert not state.importing
    assert state.message == "Choose a CSV file first."


def test_a_new_click_clears_the_last_report() -> None:
    state = _state()
    _start(state)
    _upload_nothing(state)
    _start(state)
    assert state.importing
    assert state.message == ""


def test_a_lost_upload_does_not_keep_the_panel_importing_after_the_next_one() -> None:
    state = _state()
    _start(state)  # its upload was refused before reaching the handler (say, the database was down)
    assert state.importing
    _start(state)  # the user tries again
    _upload_nothing(state)
    assert not state.importing


def test_a_double_click_sends_one_upload_and_ends_importing() -> None:
    state = _state()
    _start(state)
    _start(state)  # Reflex sends no second upload while the first is in flight
    _upload_nothing(state)
    assert not state.importing
    assert state.message == "Choose a CSV file first."
