"""Property-based checks of the public API: bad input is a ValueError naming the parameter; divergence is
a flag and ``inf``, never NaN and never a warning.

A test module declares :class:`Spec` entries, one per public function:

- ``call``: a function of keyword arguments that calls the library (usually the function itself);
- ``valid``: a valid set of keyword arguments (the baseline every case starts from);
- ``bad``: ``{parameter: [bad values]}``; each case replaces one parameter of the baseline with one bad
  value and expects a ``ValueError`` whose message names the parameter;
- ``diverge`` (optional): ``(strategy of keyword overrides that make the run diverge, check)`` where
  ``check(result)`` says the divergence is flagged (``inf`` or a flag set), and the harness asserts no NaN
  anywhere in the result and no warning during the call.

:func:`run_bad_inputs` and :func:`run_divergence` draw the cases with hypothesis, and :data:`COVERAGE`
counts functions and cases; ``tests/test_properties_*.py`` print it at the end of the session.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: {module: {"functions": set, "bad": int, "diverge": int}}
COVERAGE: dict[str, dict[str, Any]] = {}

NAN, INF = float("nan"), float("inf")
#: Values no numeric parameter accepts.
NOT_A_NUMBER = [NAN, INF, -INF, "1", None, [1.0, 2.0]]


@dataclass(frozen=True)
class Spec:
    """One public function under test (see the module docstring)."""

    name: str
    call: Callable[..., Any]
    valid: Mapping[str, Any]
    bad: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    diverge: tuple | None = None
    names: Mapping[str, str] = field(default_factory=dict)  # parameter -> the name its message uses

    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]


def _count(spec: Spec, what: str) -> None:
    d = COVERAGE.setdefault(spec.module(), {"functions": set(), "bad": 0, "diverge": 0})
    d["functions"].add(spec.name)
    d[what] += 1


def _nan_anywhere(x: Any) -> bool:
    if isinstance(x, Mapping):
        return any(_nan_anywhere(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_nan_anywhere(v) for v in x)
    if hasattr(x, "__dataclass_fields__"):
        return any(_nan_anywhere(getattr(x, f)) for f in x.__dataclass_fields__)
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return bool(torch.isnan(x).any()) if x.is_floating_point() else False
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, (float, np.floating)):
        return math.isnan(float(x))
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return bool(np.isnan(x).any())
    return False


def check_bad_input(spec: Spec, param: str, value: Any) -> None:
    """One case: ``spec`` with ``param`` replaced by ``value`` raises a ValueError naming ``param``."""
    kwargs = dict(spec.valid)
    kwargs[param] = value
    try:
        spec.call(**kwargs)
    except ValueError as exc:
        name = spec.names.get(param, param)
        assert name in str(exc), f"{spec.name}({param}={value!r}): the ValueError does not name {name!r}: {exc}"
    except Exception as exc:  # noqa: BLE001 - any other exception is the defect under test
        raise AssertionError(f"{spec.name}({param}={value!r}) raised {type(exc).__name__}: {exc}") from exc
    else:
        raise AssertionError(f"{spec.name}({param}={value!r}) was accepted")
    _count(spec, "bad")


def _strategy(values) -> st.SearchStrategy:
    return values if isinstance(values, st.SearchStrategy) else st.sampled_from(list(values))


def run_bad_inputs(specs: Sequence[Spec], per_parameter: int = 4):
    """A hypothesis test: draws a (function, parameter) pair and a bad value for it (from the declared list
    or strategy), ``per_parameter`` draws per pair on average; every draw must raise a ValueError naming the
    parameter. Derandomised: the same cases on every run."""
    pairs = [(s, p) for s in specs for p in s.bad]
    cases = st.sampled_from(pairs).flatmap(lambda sp: st.tuples(st.just(sp), _strategy(sp[0].bad[sp[1]])))

    @settings(max_examples=max(1, per_parameter * len(pairs)), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(cases)
    def _run(case):
        (spec, param), value = case
        check_bad_input(spec, param, value)

    return _run


def check_divergence(spec: Spec, overrides: Mapping[str, Any]) -> None:
    """One case: the divergent setting gives a flag and ``inf``, no NaN and no warning."""
    strategy, flagged = spec.diverge
    kwargs = {**spec.valid, **overrides}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):
            res = spec.call(**kwargs)
    assert not _nan_anywhere(res), f"{spec.name}({overrides}) returned NaN"
    assert flagged(res), f"{spec.name}({overrides}) diverges but is not flagged"
    _count(spec, "diverge")


def run_divergence(spec: Spec, max_examples: int = 10):
    """A hypothesis test over ``spec.diverge``'s strategy of divergent settings."""
    strategy, _ = spec.diverge

    @settings(max_examples=max_examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def _run(overrides):
        check_divergence(spec, overrides)

    return _run


def report() -> str:
    """``N functions, M cases`` per module, for the end of the test session."""
    lines = []
    for mod, d in sorted(COVERAGE.items()):
        lines.append(f"{mod}: {len(d['functions'])} functions, {d['bad']} bad-input cases, {d['diverge']} divergent cases")
    n_f = sum(len(d["functions"]) for d in COVERAGE.values())
    n_c = sum(d["bad"] + d["diverge"] for d in COVERAGE.values())
    lines.append(f"property-based checks: {n_f} public functions, {n_c} cases")
    return "\n".join(lines)
