"""Data sets of the book: scikit-learn digits, Fashion-MNIST and MNIST (IDX), synthetic problems.

Image data is looked up, in order, in ``$SGDLAB_DATA``, the repository's ``data/raw/``, the Debian
package location (``/usr/share/datasets/fashion-mnist/``, package ``dataset-fashion-mnist``), and is
finally downloaded over HTTPS where a network exists (Binder). No code path needs the network when
the files are present. Files may be gzipped (``*.gz``) or plain; wherever a file was found, the
SHA-256 of its (decompressed) content must be the known one, else loading fails naming the file.

Used by parts 1–5 wherever a chapter trains on real data.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from ._paths import DATA_DIR
from .provenance import atomic_write_bytes

DEBIAN_DIRS = {"fashion": Path("/usr/share/datasets/fashion-mnist"), "mnist": Path("/usr/share/datasets/mnist")}

#: File stems with two checksums each: the MD5 of the gzipped file the authors publish, and the
#: SHA-256 of the decompressed IDX bytes, independent of how a mirror or a Debian package compressed
#: it. Every file read, wherever it was found, is checked against the SHA-256 (:func:`read_idx`), and
#: so is a download (:func:`checksum_ok`). Fashion-MNIST's SHA-256 were measured on the files of the
#: Debian package ``dataset-fashion-mnist`` (re-gzipped: their MD5 differ from the published ones,
#: the content is the same); MNIST's are the published SHA-256 of the original IDX files.
FILES = {
    "fashion": {
        "train-images": ("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                         "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train-labels": ("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe",
                         "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "test-images": ("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79",
                        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "test-labels": ("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310",
                        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
    "mnist": {
        "train-images": ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                         "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels": ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432",
                         "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "test-images": ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3",
                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "test-labels": ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c",
                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
}
#: Download locations, HTTPS only (:func:`download` refuses any other scheme, after redirects too).
MIRRORS = {
    "fashion": [
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
}
SUBDIRS = {"fashion": "fashion-mnist", "mnist": "mnist"}

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


# --------------------------------------------------------------------------- IDX
def parse_idx(raw: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes (LeCun's format: two zero bytes, a type code, the number of dimensions,
    big-endian 32-bit sizes, then the data).

    Raises
    ------
    ValueError
        On a wrong magic number, an unknown type code, or a truncated or over-long payload.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    payload = len(raw) - 4 - 4 * ndim
    if payload != expected:
        raise ValueError(
            f"{name}: IDX payload has {payload} bytes, the header {shape} asks for {expected} "
            f"({'truncated' if payload < expected else 'trailing data'})"
        )
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, *, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file, gzipped (``.gz``) or plain. See :func:`parse_idx` for the errors.

    Parameters
    ----------
    path : path
        The file.
    sha256 : str, optional
        The known SHA-256 of the decompressed content; a file whose content differs is refused.

    Raises
    ------
    ValueError
        Naming ``path``: a corrupt gzip stream, a content SHA-256 other than ``sha256``, or a
        malformed IDX payload.
    """
    path = Path(path)
    raw = _content(path)
    if sha256 is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != sha256:
            raise ValueError(f"{path}: the SHA-256 of its content is {got}, not the known {sha256}; the file is "
                             "corrupt or not the original: delete it (or reinstall its package) and load again")
    return parse_idx(raw, name=str(path))


def _content(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: truncated or corrupt gzip stream") from exc
    return raw


# --------------------------------------------------------------------------- lookup
def search_dirs(dataset: str = "fashion") -> list[Path]:
    """The folders searched for ``dataset``'s files, in order."""
    _check_dataset(dataset)
    dirs = []
    if os.environ.get("SGDLAB_DATA"):
        base = Path(os.environ["SGDLAB_DATA"])
        dirs += [base / SUBDIRS[dataset], base]
    dirs += [DATA_DIR / "raw" / SUBDIRS[dataset], DATA_DIR / "raw"]
    dirs.append(DEBIAN_DIRS[dataset])
    return dirs


def _check_dataset(dataset: str) -> None:
    if dataset not in FILES:
        raise ValueError(f"dataset={dataset!r} is unknown; allowed: {', '.join(FILES)}")


def find_file(dataset: str, part: str) -> Path | None:
    """Path of one IDX file (``part`` in ``train-images`` … ``test-labels``), or ``None``."""
    _check_dataset(dataset)
    if part not in FILES[dataset]:
        raise ValueError(f"part={part!r} is unknown; allowed: {', '.join(FILES[dataset])}")
    stem = FILES[dataset][part][0]
    for d in search_dirs(dataset):
        for name in (stem + ".gz", stem):
            if (d / name).is_file():
                return d / name
    return None


def download(dataset: str, part: str, dest: str | os.PathLike | None = None, *, timeout: float = 60) -> Path:
    """Download one gzipped IDX file over HTTPS, verify its checksums, and write it atomically.

    A failed or corrupt download leaves no file behind.

    Raises
    ------
    ValueError
        If every mirror failed, was not HTTPS (also after a redirect), or the checksum did not match.
    """
    _check_dataset(dataset)
    stem, md5, sha = FILES[dataset][part]
    dest = Path(dest) if dest is not None else DATA_DIR / "raw" / SUBDIRS[dataset]
    errors = []
    for mirror in MIRRORS[dataset]:
        url = mirror + stem + ".gz"
        if not url.startswith("https://"):
            errors.append(f"{url}: not HTTPS, refused")
            continue
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https mirrors)
                final = resp.geturl() if hasattr(resp, "geturl") else url
                data = resp.read()
        except OSError as exc:
            errors.append(f"{url}: {exc}")
            continue
        if not str(final).startswith("https://"):
            errors.append(f"{url}: redirected to {final}, not HTTPS, refused")
            continue
        if not checksum_ok(data, md5, sha):
            errors.append(f"{url}: checksum mismatch (MD5 {hashlib.md5(data).hexdigest()})")  # noqa: S324
            continue
        return atomic_write_bytes(dest / (stem + ".gz"), data)
    raise ValueError(f"could not download {dataset} {part}: " + "; ".join(errors))


def checksum_ok(data: bytes, md5: str, sha256_content: str | None) -> bool:
    """Whether the content of ``data`` (gzipped or plain) has the SHA-256 ``sha256_content``.

    Where ``sha256_content`` is ``None`` (unknown), the published ``md5`` of the gzipped file decides.
    """
    if sha256_content is None:
        return hashlib.md5(data).hexdigest() == md5  # noqa: S324 (the authors publish MD5)
    try:
        content = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError):
        return False
    return hashlib.sha256(content).hexdigest() == sha256_content


def verify_local(dataset: str = "fashion") -> dict[str, bool]:
    """Check the locally found files of ``dataset`` against the known checksums (``{part: ok}``)."""
    _check_dataset(dataset)
    out = {}
    for part, (_, md5, sha) in FILES[dataset].items():
        path = find_file(dataset, part)
        out[part] = path is not None and checksum_ok(path.read_bytes(), md5, sha)
    return out


def _missing_message(dataset: str, part: str) -> str:
    places = "\n".join(f"  - {d}" for d in search_dirs(dataset))
    how = (
        "Install the Debian package `dataset-fashion-mnist`, or put the gzipped IDX files in one of "
        "those folders, or set SGDLAB_DATA, or pass download=True where a network exists."
        if dataset == "fashion"
        else "Put the gzipped IDX files in one of those folders, or set SGDLAB_DATA, "
        "or pass download=True where a network exists."
    )
    return f"{dataset} {part} ({FILES[dataset][part][0]}[.gz]) not found. Looked in:\n{places}\n{how}"


def load_mnist_like(
    dataset: str = "fashion", split: str = "train", *, download_missing: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8, ``(n, 28, 28)``) and labels (uint8, ``(n,)``) of Fashion-MNIST or MNIST.

    Parameters
    ----------
    dataset
        ``"fashion"`` or ``"mnist"``.
    split
        ``"train"`` (60 000 images) or ``"test"`` (10 000).
    download_missing
        Download missing files (needs a network); otherwise a missing file is an error.

    Raises
    ------
    FileNotFoundError
        If a file is missing and not downloaded; the message lists every folder searched.
    ValueError
        On a bad ``dataset`` or ``split``, or a corrupt file or one whose content is not the known
        one (SHA-256), naming the file.
    """
    _check_dataset(dataset)
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: allowed 'train' or 'test'")
    arrays = []
    for kind in ("images", "labels"):
        part = f"{split}-{kind}"
        path = find_file(dataset, part)
        if path is None:
            if not download_missing:
                raise FileNotFoundError(_missing_message(dataset, part))
            path = download(dataset, part)
        arrays.append(read_idx(path, sha256=FILES[dataset][part][2]))
    images, labels = arrays
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{dataset} {split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def available(dataset: str = "fashion") -> bool:
    """Whether all four files of ``dataset`` are found locally."""
    return all(find_file(dataset, p) is not None for p in FILES[dataset])


def image_classification(
    dataset: str = "fashion",
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    flatten: bool = True,
    seed: int = 0,
    dtype=np.float32,
    download_missing: bool = False,
) -> dict[str, np.ndarray]:
    """Standardised image data as float arrays: ``{"x_train", "y_train", "x_test", "y_test"}``.

    Pixels are scaled to [0, 1] and standardised with the training set's mean and standard deviation
    (scalar, over all pixels). ``n_train``/``n_test`` draw a class-stratified-by-chance subset with
    ``numpy.random.default_rng(seed)``. ``dataset`` may be ``"fashion"``, ``"mnist"`` or ``"digits"``
    (scikit-learn's 8×8 digits, split 1497/300 by the same seed).
    """
    if dataset == "digits":
        x, y = load_digits()
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(y))
        tr, te = perm[:1497], perm[1497:]
        x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[te], y[te]
        if not flatten:
            x_tr, x_te = x_tr.reshape(-1, 8, 8), x_te.reshape(-1, 8, 8)
    else:
        x_tr, y_tr = load_mnist_like(dataset, "train", download_missing=download_missing)
        x_te, y_te = load_mnist_like(dataset, "test", download_missing=download_missing)
        x_tr = x_tr.astype(np.float64) / 255.0
        x_te = x_te.astype(np.float64) / 255.0
        if flatten:
            x_tr, x_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    rng = np.random.default_rng(seed)
    for name, n, total in (("n_train", n_train, len(y_tr)), ("n_test", n_test, len(y_te))):
        if n is not None and not (1 <= n <= total):
            raise ValueError(f"{name}={n} must be in [1, {total}]")
    if n_train is not None:
        idx = np.sort(rng.choice(len(y_tr), n_train, replace=False))
        x_tr, y_tr = x_tr[idx], y_tr[idx]
    if n_test is not None:
        idx = np.sort(rng.choice(len(y_te), n_test, replace=False))
        x_te, y_te = x_te[idx], y_te[idx]
    mean, std = x_tr.mean(), x_tr.std()
    return {
        "x_train": ((x_tr - mean) / std).astype(dtype),
        "y_train": np.asarray(y_tr, dtype=np.int64),
        "x_test": ((x_te - mean) / std).astype(dtype),
        "y_test": np.asarray(y_te, dtype=np.int64),
    }


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits: pixels in [0, 1] as float64 ``(1797, 64)``, labels ``(1797,)``."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    return d.data.astype(np.float64) / 16.0, d.target.astype(np.int64)


# --------------------------------------------------------------------------- synthetic
def power_law_spectrum(
    dim: int, nu: float, kappa: float, *, lambda_max: float = 1.0, coef_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and target coefficients with power laws ``λ_k = λ_max k^{-ν}``,
    ``λ_k c_k² = coef_scale · k^{-κ-1}`` (k = 1 … dim).

    These are the "source/capacity" conditions of part 1 (Velikanov et al. 2023, Sec. 5): the loss of
    gradient flow then decays as ``t^{-κ/ν}``.

    Parameters
    ----------
    dim
        Number of modes (``P`` in the book's notation).
    nu
        Spectral decay exponent ``ν > 1``.
    kappa
        Target decay exponent ``κ > 0``.
    """
    if not (isinstance(dim, (int, np.integer)) and dim >= 1):
        raise ValueError(f"dim={dim!r} must be a positive integer")
    if not nu > 1:
        raise ValueError(f"nu={nu!r} must be > 1 (a trace-class spectrum)")
    if not kappa > 0:
        raise ValueError(f"kappa={kappa!r} must be > 0")
    if not lambda_max > 0:
        raise ValueError(f"lambda_max={lambda_max!r} must be > 0")
    k = np.arange(1, dim + 1, dtype=np.float64)
    eigs = lambda_max * k ** (-nu)
    coefs = np.sqrt(coef_scale * k ** (-kappa - 1.0) / eigs)
    return eigs, coefs


def teacher_student(
    n_samples: int, eigs: np.ndarray, coefs: np.ndarray, *, noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features ``x ~ N(0, diag(eigs))`` and targets ``y = x·coefs + noise·ε``.

    Returns
    -------
    x : ndarray, shape (n_samples, len(eigs))
    y : ndarray, shape (n_samples,)
    """
    eigs = np.asarray(eigs, dtype=np.float64)
    coefs = np.asarray(coefs, dtype=np.float64)
    if eigs.ndim != 1 or eigs.shape != coefs.shape:
        raise ValueError(f"eigs {eigs.shape} and coefs {coefs.shape} must be 1-d and of equal length")
    if np.any(eigs < 0):
        raise ValueError("eigs must be >= 0")
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 1):
        raise ValueError(f"n_samples={n_samples!r} must be a positive integer")
    if noise < 0:
        raise ValueError(f"noise={noise!r} must be >= 0")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, eigs.size)) * np.sqrt(eigs)
    y = x @ coefs + noise * rng.standard_normal(n_samples)
    return x, y
