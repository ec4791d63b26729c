"""Suite-wide ordering: browser tests run last.

pytest-playwright's sync API keeps an asyncio loop running on the main thread for
the rest of the session once its browser starts, so any later test that calls
``asyncio.run()`` would fail. Moving the browser tests to the end keeps both kinds
honest without giving either up.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def is_browser(item: pytest.Item) -> bool:
        return item.get_closest_marker("browser") is not None or "browser" in item.path.parts

    items.sort(key=is_browser)
