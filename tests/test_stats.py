import numpy as np
import pytest
from scipy import stats as st

from sgdlab import plotting, stats


def test_loglog_slope_recovers_a_power_law():
    x = np.logspace(0, 3, 20)
    assert stats.loglog_slope(x, 3 * x**-1.7) == pytest.approx(-1.7, abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        stats.loglog_slope([1, 2], [1, 0])


def test_wilson_interval_matches_the_closed_form_and_covers():
    lo, hi = stats.wilson_interval(0, 300)
    assert lo == 0 and 0.01 < hi < 0.02  # rule of three: about 3/300
    lo, hi = stats.wilson_interval(np.array([50, 290]), np.array([100, 300]))
    assert lo[0] < 0.5 < hi[0] and hi[1] <= 1
    rng = np.random.default_rng(0)
    k = rng.binomial(200, 0.3, size=4000)
    lo, hi = stats.wilson_interval(k, np.full(4000, 200))
    coverage = np.mean((lo <= 0.3) & (0.3 <= hi))
    assert 0.93 < coverage < 0.97
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(5, 4)


def test_mean_and_sem():
    v = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    m, s = stats.mean_and_sem(v)
    np.testing.assert_allclose(m, [3.0, 5.0])
    np.testing.assert_allclose(s, st.sem(v, axis=0))


def test_plot_helpers_draw_lines_and_markers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plotting.use_style()
    fig, ax = plt.subplots()
    (line,) = plotting.theory(ax, [1, 2], [1, 2], label="GF")
    (marks,) = plotting.simulation(ax, [1, 2], [1, 2], label="SGD")
    assert line.get_label() == "GF (theory)" and line.get_linestyle() == "-"
    assert marks.get_label() == "SGD (simulation)" and marks.get_linestyle() == "None"
    plotting.simulation(ax, [1, 2], [1, 2], yerr=[0.1, 0.1], label="x", i=3)
    (exact,) = plotting.simulation(ax, [1, 2], [1, 2], label="exact recursion")
    assert exact.get_label() == "exact recursion", "an exact quantity drawn as markers is not called a simulation"
    plotting.band(ax, [1, 2], [0, 0], [1, 1])
    plt.close(fig)
    assert len(set(plotting.PALETTE)) == len(plotting.PALETTE)


def test_md_table_formats_numbers_for_readers():
    import numpy as np

    md = plotting.md_table(["a", "b", "c"], [[np.int64(3), 0.123456, float("nan")], ["x", 12345.6, float("inf")]],
                           caption="Cap.").data
    assert md.startswith("Cap.\n\n| a | b | c |") and "| 3 | 0.123 | — |" in md and "| x | 12,346 | ∞ |" in md
    with pytest.raises(ValueError, match="rows"):
        plotting.md_table(["a"], [[1, 2]])
