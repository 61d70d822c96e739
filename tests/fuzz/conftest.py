"""The sweep's figures are printed at the end of the run (the closing note and CI read them there)."""

from __future__ import annotations

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.write_sep("=", "fuzz sweep")
        for line in FIGURES:
            terminalreporter.write_line(line)
