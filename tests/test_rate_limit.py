"""The per-sender token bucket in Redis: segments, reservations, refusal beyond max_wait."""

import uuid

from core.rate_limit import tokens_reserve


def test_reservations_space_sends_at_the_rate_in_segments():
    key = f"test:{uuid.uuid4().hex}"
    waits = []
    for _ in range(4):
        reserved, wait = tokens_reserve(key=key, rate=2, cost=1, max_wait=10)
        assert reserved
        waits.append(wait)
    # A burst of two (one second at 2/s), then one every half second.
    assert waits[0] == 0 and waits[1] == 0
    assert abs(waits[2] - 0.5) < 0.05 and abs(waits[3] - 1.0) < 0.05


def test_a_long_message_costs_its_segments_and_still_gets_its_turn():
    key = f"test:{uuid.uuid4().hex}"
    reserved, wait = tokens_reserve(key=key, rate=1, cost=3, max_wait=5)
    assert reserved and abs(wait - 2.0) < 0.05  # a burst of one, then 2 s of debt
    reserved, wait = tokens_reserve(key=key, rate=1, cost=1, max_wait=5)
    assert reserved and abs(wait - 3.0) < 0.05


def test_a_caller_that_would_wait_too_long_reserves_nothing():
    key = f"test:{uuid.uuid4().hex}"
    assert tokens_reserve(key=key, rate=1, cost=1, max_wait=2)[0]
    assert tokens_reserve(key=key, rate=1, cost=1, max_wait=2)[0]  # waits 1 s
    reserved, wait = tokens_reserve(key=key, rate=1, cost=3, max_wait=2)
    assert not reserved and wait > 2
    # Nothing was taken: the next one-segment caller waits as long as before the refusal.
    reserved, wait = tokens_reserve(key=key, rate=1, cost=1, max_wait=5)
    assert reserved and abs(wait - 2.0) < 0.05
