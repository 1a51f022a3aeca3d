"""Snapshots of the main screens over fixed data (tests/tui/demo_source.py); after a deliberate
change of the look, review the new pictures and accept them with --snapshot-update."""

from __future__ import annotations

from typing import Any

import pytest

from dagy.tui.app import DagyApp
from tests.tui.conftest import settle
from tests.tui.demo_source import SCREENS, SIZE, DemoSource


@pytest.mark.parametrize("screen", list(SCREENS))
def test_main_screens_look_as_accepted(snap_compare: Any, screen: str) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for key in SCREENS[screen]:
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(DagyApp(DemoSource()), terminal_size=SIZE, run_before=run_before)
