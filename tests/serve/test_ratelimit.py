"""The sliding-window limiter: exact counts, a Retry-After that is right, bounded memory."""

import pytest

from newsrec.serve.ratelimit import Rate, SlidingWindowLimiter


def test_rates_parse_and_bad_ones_say_what_to_write():
    assert Rate.parse("600/minute") == Rate(600, 60) and Rate.parse(" 5 / seconds ") == Rate(5, 1)
    for bad in ("600", "ten/minute", "0/minute", "5/fortnight"):
        with pytest.raises(ValueError, match="like 600/minute"):
            Rate.parse(bad)


def test_a_full_window_refuses_until_the_wait_it_names_has_passed():
    limiter = SlidingWindowLimiter(Rate(3, 60))
    t = 1_000_020.0  # 20 s into a window
    assert [limiter.hit("a", t + i) for i in range(3)] == [0, 0, 0]
    wait = limiter.hit("a", t + 3)
    assert wait > 0 and limiter.hit("b", t + 3) == 0  # keys are apart
    assert limiter.hit("a", t + 3 + wait - 0.5) > 0 and limiter.hit("a", t + 3 + wait + 0.01) == 0
    assert limiter.wait("a", t + 3 + wait + 0.02) > 0  # that one counted: full again


def test_the_previous_window_fades_out_linearly():
    limiter = SlidingWindowLimiter(Rate(10, 60))
    start = 6_000_000.0  # a window boundary
    for i in range(10):
        assert limiter.hit("a", start + i) == 0
    assert limiter.hit("a", start + 60) > 0  # all 10 still weigh fully at the new window's start
    assert limiter.hit("a", start + 66.5) == 0  # 10 x (1 - 6.5/60) = 8.9 < 10
    assert limiter.hit("a", start + 200) == 0 and limiter.wait("a", start + 200) == 0  # long idle: fresh


def test_memory_is_bounded_by_forgetting_idle_keys():
    limiter = SlidingWindowLimiter(Rate(5, 1), max_keys=100)
    for i in range(1000):
        limiter.hit(f"address-{i}", 5000.0 + i * 0.01)
    assert len(limiter._windows) <= 100
