"""The soak benchmark's RSS summary: least-squares slope, growth, steady-phase window."""

from __future__ import annotations

import pytest

from bench.bench_soak import RssSample, RssSummary, between, slope_per_min


def test_the_slope_of_a_steady_climb_is_its_rate_per_minute() -> None:
    samples = [RssSample(at_s=5.0 * i, kib=100_000 + 10 * i) for i in range(25)]
    assert slope_per_min(samples) == pytest.approx(120.0)  # 10 KiB every 5 s


def test_noise_around_a_flat_line_has_no_slope() -> None:
    samples = [RssSample(at_s=float(i), kib=100_000 + (50 if i % 2 else -50)) for i in range(60)]
    assert abs(slope_per_min(samples)) < 60.0  # 1 KiB/s either way at most


@pytest.mark.parametrize(
    "samples", [[], [RssSample(1.0, 5)], [RssSample(1.0, 5), RssSample(1.0, 9)]]
)
def test_too_few_instants_have_no_slope(samples: list[RssSample]) -> None:
    assert slope_per_min(samples) == 0.0


def test_the_summary_keeps_first_highest_and_last() -> None:
    samples = [RssSample(0.0, 1_000), RssSample(60.0, 1_200), RssSample(120.0, 1_050)]
    summary = RssSummary.of(samples)
    assert (summary.start_kib, summary.max_kib, summary.end_kib) == (1_000, 1_200, 1_050)
    assert summary.samples == 3
    assert summary.growth == pytest.approx(0.05)
    assert summary.slope_kib_per_min == pytest.approx(25.0)


def test_a_summary_needs_a_sample() -> None:
    with pytest.raises(ValueError, match="no RSS samples"):
        RssSummary.of([])


def test_the_steady_phase_includes_both_ends() -> None:
    samples = [RssSample(float(t), t) for t in range(10)]
    assert [s.kib for s in between(samples, 2.0, 5.0)] == [2, 3, 4, 5]
