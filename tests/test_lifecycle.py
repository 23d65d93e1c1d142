"""The posting lifecycle refuses illegal transitions (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.lifecycle import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    IllegalTransition,
    PostingStatus,
    check_transition,
)

statuses = st.sampled_from(list(PostingStatus))

# The lifecycle drawn in DESIGN.md, written out independently of the module's table.
DRAWN = {
    ("awaiting_packaging", "awaiting_deliver"), ("awaiting_deliver", "delivering"),
    ("delivering", "delivered"), ("awaiting_packaging", "cancelled"),
    ("awaiting_deliver", "cancelled"), ("delivering", "not_accepted"),
    ("awaiting_deliver", "arbitration"), ("arbitration", "awaiting_deliver"),
    ("arbitration", "delivered"), ("arbitration", "cancelled"),
}


@given(statuses, statuses)
def test_only_drawn_transitions_are_legal(current, target) -> None:
    if (current.value, target.value) in DRAWN:
        assert check_transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_final_states_have_no_exit() -> None:
    for status in FINAL_STATUSES:
        assert not ALLOWED_TRANSITIONS[status]
    assert {s for s, targets in ALLOWED_TRANSITIONS.items() if not targets} == set(FINAL_STATUSES)
