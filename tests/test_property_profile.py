"""The property tests draw the same examples on every run (see the profiles in conftest.py).

CI is a gate: a commit that passed must not fail on its next run because a random seed found an
old bug. Random seeds run on demand (``nox -s fuzz``).
"""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def draws() -> list[object]:
    """The examples one run of a property test draws."""
    seen: list[object] = []

    @settings(max_examples=25)
    @given(st.lists(st.integers()), st.text())
    def record(numbers: list[int], text: str) -> None:
        seen.append((numbers, text))

    record()
    return seen


def test_the_default_profile_draws_the_same_examples_on_every_run(
    request: pytest.FixtureRequest,
) -> None:
    chosen = request.config.getoption("hypothesis_profile") or os.environ.get("HYPOTHESIS_PROFILE")
    if chosen not in (None, "deterministic"):
        pytest.skip(f"the {chosen!r} profile was chosen on purpose")
    assert settings.default.derandomize
    assert settings.default.database is None  # no failure replayed from an earlier run
    first, second = draws(), draws()
    assert len(first) == 25
    assert first == second
