"""One plotting style for the whole book.

Theory is drawn as lines (:func:`theory`), simulation as markers (:func:`simulation`), in the
Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008; Wong, *Nature Methods* 8, 441, 2011).
Every chapter calls :func:`use_style` in its first cell.
"""
from __future__ import annotations

import matplotlib as mpl

#: Okabe–Ito palette (black last, for reference curves).
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "axes.labelsize": "medium",
    "legend.frameon": False,
    "legend.fontsize": "small",
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "font.size": 11,
    "image.cmap": "cividis",
}


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent), and draw figures inline inside a Jupyter kernel.

    A kernel started with ``MPLBACKEND=Agg`` in its environment (as test runners and build scripts often
    set) keeps the non-interactive Agg backend, and then ``plt.show()`` draws nothing into the notebook:
    a built book without a single figure. Inside a kernel this switches to the inline backend.
    """
    _inline_in_kernel()
    mpl.rcParams.update(STYLE)
    _retina()


def _retina() -> None:
    """Inline figures as PNG at twice the resolution, displayed at their nominal size (HiDPI screens)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def _inline_in_kernel() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the book's environment
        return
    ip = get_ipython()
    if ip is None or not hasattr(ip, "kernel"):
        return                                   # a plain script or a terminal IPython: leave the backend alone
    if "inline" not in mpl.get_backend():
        ip.run_line_magic("matplotlib", "inline")


def color(i: int) -> str:
    """The ``i``-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def theory(ax, x, y, *, label: str | None = None, i: int = 0, **kw):
    """Draw a theoretical curve: a line. ``label`` gets the suffix " (theory)" unless it has one."""
    if label and "theory" not in label:
        label = f"{label} (theory)"
    kw.setdefault("color", color(i))
    kw.setdefault("linestyle", "-")
    return ax.plot(x, y, label=label, **kw)


#: Words that say what a marker series is; a label with none of them gets " (simulation)".
_SAYS_WHAT = ("sim", "measured", "exact", "theory", "recursion", "formula", "closed form", "quadrature",
              "prediction", "predicted", "runs", "run ", "monte carlo", "network", "data", "observed", "fit")


def simulation(ax, x, y, *, yerr=None, label: str | None = None, i: int = 0, **kw):
    """Draw computed points (simulation, measurement, or an exact value at discrete points): markers,
    with error bars when ``yerr`` is given.

    A ``label`` that does not say what the points are (none of "simulation", "measured", "exact",
    "recursion", "formula", "theory", …) gets the suffix " (simulation)"; an exact or theoretical
    quantity drawn as markers keeps its own word.
    """
    if label and not any(w in label.lower() for w in _SAYS_WHAT):
        label = f"{label} (simulation)"
    kw.setdefault("color", color(i))
    kw.setdefault("marker", MARKERS[i % len(MARKERS)])
    kw.setdefault("linestyle", "none")
    kw.setdefault("markerfacecolor", "none")
    if yerr is None:
        return ax.plot(x, y, label=label, **kw)
    return ax.errorbar(x, y, yerr=yerr, label=label, capsize=2, **kw)


def band(ax, x, lo, hi, *, i: int = 0, alpha: float = 0.2, **kw):
    """Shade a range (seed spread, confidence band) in palette colour ``i``."""
    return ax.fill_between(x, lo, hi, color=color(i), alpha=alpha, linewidth=0, **kw)


def _cell(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool,)):
        return str(v)
    if isinstance(v, (int,)) or (hasattr(v, "dtype") and getattr(v, "dtype").kind in "iu" and getattr(v, "ndim", 0) == 0):
        return str(int(v))
    v = float(v)
    if v != v:
        return "—"
    if v in (float("inf"), float("-inf")):
        return "∞" if v > 0 else "−∞"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def md_table(header, rows, caption: str = "", *, display: bool = False):
    """A Markdown table of ``rows`` under ``header`` for a chapter's results: numbers to 3 significant digits
    (thousands grouped, NaN as "—", ∞), strings as given; ``caption`` above it.

    Returns an :class:`IPython.display.Markdown` (shown when it ends a cell); ``display=True`` shows it now
    and returns ``None``.
    """
    from IPython.display import Markdown
    from IPython.display import display as _show

    header = [str(h) for h in header]
    rows = [list(r) for r in rows]
    if any(len(r) != len(header) for r in rows):
        raise ValueError(f"rows: every row needs {len(header)} cells, one per header entry")
    head = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    body = "\n".join("| " + " | ".join(_cell(v) for v in r) + " |" for r in rows)
    md = Markdown((caption + "\n\n" if caption else "") + head + body)
    if display:
        _show(md)
        return None
    return md
