"""RetryPolicy: exponential backoff, a cap, bounded jitter, mapping from error_policy."""

from __future__ import annotations

import pytest

from pystator.model import ErrorPolicy
from pystator.runtime import RetryPolicy


def test_delays_double_and_stop_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [policy.delay_for(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_within_its_fraction_and_never_passes_the_cap() -> None:
    low = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.2, rng=lambda: 0.0)
    high = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.2, rng=lambda: 0.999999)
    assert low.delay_for(2) == pytest.approx(1.6)
    assert high.delay_for(2) == pytest.approx(2.4, rel=1e-5)
    capped = RetryPolicy(base_delay=1.0, max_delay=2.0, jitter=0.5, rng=lambda: 1.0)
    assert capped.delay_for(5) == 2.0


def test_from_error_policy_counts_retries_on_top_of_the_first_try() -> None:
    policy = RetryPolicy.from_error_policy(ErrorPolicy(retry_attempts=3), base_delay=0.01)
    assert (policy.max_attempts, policy.retries, policy.base_delay) == (4, 3, 0.01)
    assert RetryPolicy.from_error_policy(ErrorPolicy()).max_attempts == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1, got 0"),
        ({"base_delay": -1.0}, "retry delays cannot be negative"),
        ({"max_delay": -0.5}, "retry delays cannot be negative"),
        ({"jitter": 1.5}, "jitter is a fraction between 0 and 1, got 1.5"),
        ({"jitter": -0.1}, "jitter is a fraction between 0 and 1, got -0.1"),
    ],
)
def test_nonsense_settings_are_refused_with_a_message(
    kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_edges_of_each_setting_are_accepted() -> None:
    policy = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=1.0)
    assert (policy.retries, policy.delay_for(1)) == (0, 0.0)
    assert RetryPolicy(jitter=0.0).delay_for(1) == 0.1


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="attempts are numbered from 1"):
        RetryPolicy().delay_for(0)
