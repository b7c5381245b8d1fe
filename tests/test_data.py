import gzip
import hashlib
import struct
import urllib.request

import numpy as np
import pytest

from sgdlab import data


def _idx(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[arr.dtype]
    return bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape) + arr.tobytes()


def test_idx_round_trip_plain_and_gzipped(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx(arr)))
    assert np.array_equal(data.read_idx(tmp_path / "a"), arr)
    assert np.array_equal(data.read_idx(tmp_path / "a.gz"), arr)
    big = np.arange(6, dtype=">i4")
    assert np.array_equal(data.parse_idx(_idx(big)), np.arange(6))


def test_wrong_magic_and_truncation_are_value_errors(tmp_path):
    good = _idx(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="magic"):
        data.parse_idx(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="truncated"):
        data.parse_idx(good[:-1])
    with pytest.raises(ValueError, match="trailing"):
        data.parse_idx(good + b"\x00")
    with pytest.raises(ValueError, match="type code"):
        data.parse_idx(b"\x00\x00\x07\x01" + good[4:])
    (tmp_path / "t.gz").write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="gzip"):
        data.read_idx(tmp_path / "t.gz")


def test_missing_files_name_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("SGDLAB_DATA", str(tmp_path))
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion": tmp_path / "deb", "mnist": tmp_path / "deb2"})
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "repo-data")
    with pytest.raises(FileNotFoundError) as exc:
        data.load_mnist_like("mnist", "train")
    msg = str(exc.value)
    for d in data.search_dirs("mnist"):
        assert str(d) in msg
    assert "download" in msg


def _known(monkeypatch, dataset, **contents):
    """Make ``contents`` (part -> IDX bytes) the known content of ``dataset``'s parts in this test."""
    files = {d: dict(v) for d, v in data.FILES.items()}
    for part, raw in contents.items():
        stem, md5, _ = files[dataset][part.replace("_", "-")]
        files[dataset][part.replace("_", "-")] = (stem, md5, hashlib.sha256(raw).hexdigest())
    monkeypatch.setattr(data, "FILES", files)


def test_lookup_prefers_sgdlab_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SGDLAB_DATA", str(tmp_path))
    imgs = np.zeros((3, 28, 28), dtype=np.uint8)
    labs = np.array([1, 2, 3], dtype=np.uint8)
    _known(monkeypatch, "mnist", test_images=_idx(imgs), test_labels=_idx(labs))
    sub = tmp_path / "mnist"
    sub.mkdir()
    (sub / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(imgs)))
    (sub / "t10k-labels-idx1-ubyte").write_bytes(_idx(labs))
    x, y = data.load_mnist_like("mnist", "test")
    assert x.shape == (3, 28, 28) and list(y) == [1, 2, 3]


def test_failed_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Resp:
        def __init__(self, payload):
            self.payload = payload

        def read(self):
            return self.payload

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Resp(b"\x1f\x8bnot the file"))
    with pytest.raises(ValueError, match="checksum"):
        data.download("fashion", "test-labels", tmp_path)
    assert list(tmp_path.iterdir()) == []

    def offline(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ValueError, match="unreachable"):
        data.download("mnist", "test-labels", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dataset", ["fashion", "mnist"])
def test_a_well_formed_file_with_wrong_content_is_refused_with_its_name(tmp_path, monkeypatch, dataset):
    # a valid gzip wrapper around a valid IDX file whose labels are wrong: it parses, so only the
    # checksum can tell; the message names the file wherever it was found
    monkeypatch.setenv("SGDLAB_DATA", str(tmp_path))
    sub = tmp_path / data.SUBDIRS[dataset]
    sub.mkdir()
    imgs, labs = np.zeros((10000, 28, 28), dtype=np.uint8), np.full(10000, 11, dtype=np.uint8)
    (sub / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(imgs), compresslevel=1))
    (sub / "t10k-labels-idx1-ubyte").write_bytes(_idx(labs))
    with pytest.raises(ValueError, match="SHA-256") as exc:
        data.load_mnist_like(dataset, "test")
    assert str(sub / "t10k-images-idx3-ubyte.gz") in str(exc.value)
    _known(monkeypatch, dataset, test_images=_idx(imgs))  # the images pass now; the labels do not
    with pytest.raises(ValueError, match="SHA-256") as exc:
        data.load_mnist_like(dataset, "test")
    assert str(sub / "t10k-labels-idx1-ubyte") in str(exc.value)
    assert data.verify_local(dataset)["test-labels"] is False


def test_download_is_https_only(tmp_path, monkeypatch):
    assert all(m.startswith("https://") for ms in data.MIRRORS.values() for m in ms)
    payload = gzip.compress(b"x")
    _known(monkeypatch, "mnist", test_labels=b"x")
    seen = []

    class Resp:
        def __init__(self, url):
            self.url = url

        def geturl(self):
            return self.url.replace("https://", "http://")  # a redirect to plain HTTP

        def read(self):
            return payload

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def urlopen(url, timeout):
        seen.append(url)
        return Resp(url)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setitem(data.MIRRORS, "mnist", ["http://example.org/", "https://example.org/"])
    with pytest.raises(ValueError, match="not HTTPS") as exc:
        data.download("mnist", "test-labels", tmp_path)
    assert seen == ["https://example.org/t10k-labels-idx1-ubyte.gz"] and "redirected" in str(exc.value)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(Resp, "geturl", lambda self: self.url)
    path = data.download("mnist", "test-labels", tmp_path)
    assert path.read_bytes() == payload


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="dataset"):
        data.load_mnist_like("cifar")
    with pytest.raises(ValueError, match="split"):
        data.load_mnist_like("fashion", "val")
    with pytest.raises(ValueError, match="n_train"):
        data.image_classification("digits", n_train=0)


@pytest.mark.skipif(not data.available("fashion"), reason="Fashion-MNIST not installed (apt: dataset-fashion-mnist)")
def test_fashion_mnist_loads_with_verified_checksums():
    # the Debian package re-gzipped the files: the published MD5 differ, the content SHA-256 do not
    assert all(data.verify_local("fashion").values())
    x, y = data.load_mnist_like("fashion", "test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10


def test_digits_split_is_deterministic_and_standardised():
    a = data.image_classification("digits", seed=3)
    b = data.image_classification("digits", seed=3)
    assert a["x_train"].shape == (1497, 64) and a["x_test"].shape == (300, 64)
    assert np.array_equal(a["x_train"], b["x_train"])
    assert abs(float(a["x_train"].mean())) < 1e-5 and abs(float(a["x_train"].std()) - 1) < 1e-4


def test_power_law_spectrum_follows_its_exponents():
    eigs, coefs = data.power_law_spectrum(100, nu=1.5, kappa=2.0)
    k = np.arange(1, 101)
    np.testing.assert_allclose(eigs, k ** -1.5, rtol=1e-14)
    np.testing.assert_allclose(eigs * coefs**2, k ** -3.0, rtol=1e-12)
    with pytest.raises(ValueError, match="nu"):
        data.power_law_spectrum(10, nu=1.0, kappa=1.0)


def test_teacher_student_covariance_and_targets():
    eigs = np.array([4.0, 1.0, 0.25])
    x, y = data.teacher_student(200_000, eigs, np.array([1.0, -2.0, 0.5]), seed=0)
    np.testing.assert_allclose(x.var(axis=0), eigs, rtol=0.02)
    np.testing.assert_allclose(y, x @ np.array([1.0, -2.0, 0.5]))
    x2, _ = data.teacher_student(10, eigs, np.ones(3), seed=0)
    assert np.array_equal(x2, data.teacher_student(10, eigs, np.ones(3), seed=0)[0])
