import pytest

from sgdlab import scale


def test_default_scale_is_book(monkeypatch):
    monkeypatch.delenv("SGDLAB_SCALE", raising=False)
    assert scale.current() == "book"
    assert scale.pick(book=1, full=2) == 1


def test_full_scale_from_environment(monkeypatch):
    monkeypatch.setenv("SGDLAB_SCALE", "full")
    assert scale.current() == "full"
    assert scale.pick(book=1, full=2) == 2


def test_unknown_scale_names_the_variable(monkeypatch):
    monkeypatch.setenv("SGDLAB_SCALE", "huge")
    with pytest.raises(ValueError, match="SGDLAB_SCALE"):
        scale.current()
    with pytest.raises(ValueError, match="scale="):
        scale.pick(book=1, full=2, scale="ci")
