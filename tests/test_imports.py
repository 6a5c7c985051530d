"""No import cycle: every entry point and every module of the claim engine imports first,
on its own, in a fresh interpreter (a cycle shows only when its module is imported first)."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST = [
    "app.runtime",
    "app.main",
    "app.cli",
    "app.auth",
    "app.access",
    "app.queue",
    "app.queue.claims",
    "app.queue.board",
    "app.actions.tasks",
    "app.actions.known_answers",
    "app.actions.submissions",
    "app.fastlane",
    "workers.main",
]


@pytest.mark.parametrize("module", FIRST)
def test_imports_first_on_its_own(module: str) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module names
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
