"""The scaling benchmark's arithmetic and plots: the growth fit finds the exponent, the plot is a readable PNG."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(BENCHMARKS))  # bench_scaling imports its siblings (harness, synth) by name
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


bench = _load("bench_scaling")
SIZES = [13_000, 130_000, 1_300_000]


@pytest.mark.parametrize(("fixed", "scale", "exponent"), [(4.0, 1e-4, 1.0), (4.0, 1e-5, 1.3), (0.3, 3e-3, 0.8)])
def test_fit_recovers_the_growth_exponent_over_a_fixed_start_up_cost(fixed: float, scale: float,
                                                                     exponent: float) -> None:  # fmt: skip
    values = [fixed + scale * n**exponent for n in SIZES]

    growth = bench.fit_growth(SIZES, values)

    assert growth.exponent == pytest.approx(exponent, abs=0.01)
    assert growth.fixed == pytest.approx(fixed, rel=0.01)


def test_a_plain_log_log_slope_would_hide_superlinear_growth_behind_the_start_up_cost() -> None:
    # 10 s of start-up, then quadratic: the slope of log t against log n is far below 2; the fit sees the 2.
    values = [10 + 1e-9 * n**2 for n in SIZES]
    naive = (bench.np.log(values[-1]) - bench.np.log(values[0])) / (bench.np.log(SIZES[-1]) - bench.np.log(SIZES[0]))

    assert naive < 1.2
    assert bench.fit_growth(SIZES, values).exponent == pytest.approx(2.0, abs=0.01)


def test_flat_measurements_fit_no_growth_and_bad_input_is_refused() -> None:
    assert bench.fit_growth([1, 10, 100], [5.0, 4.9, 5.1]).exponent < 0.2
    with pytest.raises(ValueError, match="at least two sizes"):
        bench.fit_growth([10], [1.0])
    with pytest.raises(ValueError, match="positive"):
        bench.fit_growth([1, 10], [0.0, 1.0])


def test_the_plot_of_three_points_is_a_png_800_pixels_wide(tmp_path: Path) -> None:
    synth = _load("synth")
    portfolio = synth.Portfolio(tmp_path / "portfolio.yaml", 10, 10_000, 2_000, 1_000, 2026, "portfolio")
    points = [
        bench.Point(f"{k}x", n, portfolio, [2.0 + n / 1e5, 2.1 + n / 1e5], [200.0 + n / 1e3, 201 + n / 1e3])
        for k, n in zip((1, 10, 100), SIZES, strict=True)
    ]
    fits = tuple(bench.fit_growth(SIZES, [min(v) for v in values])
                 for values in ([p.seconds for p in points], [p.peak_mib for p in points]))  # fmt: skip

    path = bench.plot("rows", points, fits, tmp_path / "docs" / "scaling-rows.png")

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 800
    assert 300 < height < 500
