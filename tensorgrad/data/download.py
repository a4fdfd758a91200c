"""Download MNIST and Fashion-MNIST from public mirrors, checked and written atomically.

Only the standard library (``urllib``) is used. For each file the mirrors are tried in
order, each a few times with a short backoff; a file whose checksum does not match is
thrown away and the next mirror is tried. A file only appears under its final name once
it is complete and verified: it is written to a temporary file in the same directory,
flushed to disk, then renamed with ``os.replace``.

The mirrors and checksums live in the module-level table ``DATASET_SOURCES``; both can
also be given per call (``download_dataset(..., mirrors=..., checksums=...)``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATASET_SOURCES",
    "DatasetSource",
    "DownloadError",
    "RemoteFile",
    "default_cache_dir",
    "download_dataset",
]

_CHUNK_SIZE = 1 << 16
_USER_AGENT = "tensorgrad-data (Python urllib)"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset and the checksums that a downloaded copy must match.

    Attributes:
        name: the file name, appended to each mirror's base URL.
        md5: accepted MD5 digests (hex) of the file exactly as served.
        raw_md5: MD5 of the decompressed content, or None. A file whose own MD5 is not
            in ``md5`` is still accepted if it decompresses to exactly this content,
            since a mirror may recompress the same data.
    """

    name: str
    md5: tuple[str, ...]
    raw_md5: str | None = None


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset can be downloaded from: base URLs tried in order, and its files."""

    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]


# For each file: the MD5 of the .gz as the official mirrors publish it, the MD5 of a known
# recompressed copy of the same data (as some distributions ship it), and the MD5 of the
# uncompressed IDX file, which identifies the data whatever the compression.
DATASET_SOURCES: dict[str, DatasetSource] = {
    "mnist": DatasetSource(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        files=(
            RemoteFile("train-images-idx3-ubyte.gz",
                       md5=("f68b3c2dcbeaaa9fbdd348bbdeb94873", "1d473e58ef44e25f798984071547abb4"),
                       raw_md5="6bbc9ace898e44ae57da46a324031adb"),
            RemoteFile("train-labels-idx1-ubyte.gz",
                       md5=("d53e105ee54ea40749a09fcbcd1e9432", "1609bf896b655359423ad367a6da51b2"),
                       raw_md5="a25bea736e30d166cdddb491f175f624"),
            RemoteFile("t10k-images-idx3-ubyte.gz",
                       md5=("9fb629c4189551a2d022fa330f9573f3", "78e7617d39dd0f4605369b825dfce8e6"),
                       raw_md5="2646ac647ad5339dbf082846283269ea"),
            RemoteFile("t10k-labels-idx1-ubyte.gz",
                       md5=("ec29112dd5afa0611ce80d1b7f02629c", "ef198d564bed981685c30c7da017ac89"),
                       raw_md5="27ae3e4e09519cfbb04c329615203637"),
        ),
    ),
    "fashion-mnist": DatasetSource(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=(
            RemoteFile("train-images-idx3-ubyte.gz",
                       md5=("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "cf8536b0aa1a6ac5fa3f23001093305c"),
                       raw_md5="f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            RemoteFile("train-labels-idx1-ubyte.gz",
                       md5=("25c81989df183df01b3e8a0aad5dffbe", "10bea18fdb374794d4bb42e356e600c9"),
                       raw_md5="9018921c3c673c538a1fc5bad174d6f9"),
            RemoteFile("t10k-images-idx3-ubyte.gz",
                       md5=("bef4ecab320f06d8554ea6380940ec79", "f78720b4224f21cce2f2ccf2d7a94c9a"),
                       raw_md5="8181f5470baa50b63fa0f6fddb340f0a"),
            RemoteFile("t10k-labels-idx1-ubyte.gz",
                       md5=("bb300cfdad3c16e7a12a480ee83cd310", "0d30e22e447f3c33dab9ed536400ac01"),
                       raw_md5="15d484375f8d13e6eb1aabb0c3f46965"),
        ),
    ),
}


class DownloadError(OSError):
    """No mirror delivered a file; the message lists every URL tried and why it failed."""


class _ChecksumMismatch(Exception):
    """A downloaded file's MD5 is not one of the expected ones."""


def default_cache_dir(name: str) -> Path:
    """Return the directory downloads of dataset ``name`` go to by default.

    Args:
        name: the dataset's name, e.g. ``"mnist"`` or ``"fashion-mnist"``.

    Returns:
        ``~/.cache/tensorgrad/<name>`` (not created).

    Example:
        >>> default_cache_dir("mnist")  # doctest: +SKIP
        PosixPath('/home/me/.cache/tensorgrad/mnist')
    """
    return Path.home() / ".cache" / "tensorgrad" / name


def download_dataset(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str | Sequence[str]] | None = None,
    attempts: int = 3,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> Path:
    """Download the files of a dataset listed in ``DATASET_SOURCES`` into a directory.

    Files already in the directory whose checksum matches are kept, not fetched again.

    Args:
        name: a key of ``DATASET_SOURCES``: ``"mnist"`` or ``"fashion-mnist"``.
        directory: where to put the files; default ``default_cache_dir(name)``.
            Created if missing.
        mirrors: base URLs to try in order, replacing the table's list.
        checksums: file name -> MD5 hex digest (or several accepted digests),
            replacing the table's checksums for those files.
        attempts: tries per mirror for errors that may pass (timeouts, refused
            connections, HTTP 5xx); an HTTP 4xx or a checksum mismatch moves straight
            on to the next mirror.
        timeout: seconds to wait for the server at each connect and read.
        backoff: seconds to wait before the second try on a mirror, doubled for each
            further try.

    Returns:
        The directory holding the files.

    Raises:
        KeyError: ``name`` is not in ``DATASET_SOURCES``.
        ValueError: ``attempts`` < 1 or no mirror is given.
        DownloadError: a file could not be fetched from any mirror; the message lists
            each URL tried and what went wrong. No partial file is left behind.

    Example:
        >>> download_dataset("mnist")  # doctest: +SKIP
        PosixPath('/home/me/.cache/tensorgrad/mnist')
    """
    if name not in DATASET_SOURCES:
        raise KeyError(f"download_dataset: unknown dataset {name!r}; "
                       f"known: {', '.join(sorted(DATASET_SOURCES))}")
    source = DATASET_SOURCES[name]
    mirrors = tuple(source.mirrors if mirrors is None else mirrors)
    if not mirrors:
        raise ValueError(f"download_dataset: no mirror given for {name!r}")
    if attempts < 1:
        raise ValueError(f"download_dataset: attempts must be at least 1, got {attempts}")

    directory = Path(default_cache_dir(name) if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    for remote in source.files:
        if checksums is not None and remote.name in checksums:
            digests = checksums[remote.name]
            remote = RemoteFile(remote.name, md5=(digests,) if isinstance(digests, str)
                                else tuple(digests))
        destination = directory / remote.name
        if destination.exists() and _matches_checksum(destination, remote):
            continue
        _download_file(remote, destination, mirrors, attempts=attempts,
                       timeout=timeout, backoff=backoff)
    return directory


def _download_file(remote: RemoteFile, destination: Path, mirrors: Sequence[str], *,
                   attempts: int, timeout: float, backoff: float) -> None:
    """Fetch one file from the first mirror that delivers it intact, else raise."""
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + remote.name
        for attempt in range(1, attempts + 1):
            try:
                _fetch_verified(url, remote, destination, timeout=timeout)
                return
            except _ChecksumMismatch as exc:
                failures.append(f"{url}: {exc}")
                break  # the mirror serves bad data: retrying will not help
            except urllib.error.HTTPError as exc:
                exc.close()  # it holds the error response open
                failures.append(f"{url}: attempt {attempt}: HTTP {exc.code} {exc.reason}")
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # e.g. 404: the file is not on this mirror
            except (OSError, http.client.HTTPException) as exc:
                # URLError (refused, DNS), timeouts, and a body cut short.
                reason = getattr(exc, "reason", None) or exc
                failures.append(f"{url}: attempt {attempt}: {type(exc).__name__}: {reason}")
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
    raise DownloadError(
        f"download_dataset: could not download {remote.name} into {destination.parent}; "
        f"tried:\n  " + "\n  ".join(failures)
    )


def _fetch_verified(url: str, remote: RemoteFile, destination: Path, *,
                    timeout: float) -> None:
    """Download ``url`` to a temporary file next to ``destination``, check it, rename it."""
    temp_file = tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part", delete=False)
    temp_path = Path(temp_file.name)
    try:
        md5 = hashlib.md5(usedforsecurity=False)
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with temp_file, urllib.request.urlopen(request, timeout=timeout) as response:
            received = 0
            while chunk := response.read(_CHUNK_SIZE):
                md5.update(chunk)
                temp_file.write(chunk)
                received += len(chunk)
            temp_file.flush()
            os.fsync(temp_file.fileno())
            # http.client ends a body that stops early without an error: check its length,
            # so that a dropped connection is retried rather than taken for bad data.
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and received != int(announced):
                raise ConnectionError(f"connection closed after {received} of "
                                      f"{announced} bytes")
        if not _digest_accepted(md5.hexdigest(), temp_path, remote):
            content_note = (f" (nor does its decompressed content have MD5 {remote.raw_md5})"
                            if remote.raw_md5 else "")
            raise _ChecksumMismatch(
                f"checksum mismatch: MD5 {md5.hexdigest()}, expected "
                f"{' or '.join(remote.md5)}{content_note}")
        os.chmod(temp_path, 0o644)  # temporary files are private (0600); data is not
        os.replace(temp_path, destination)
    finally:
        temp_path.unlink(missing_ok=True)  # no-op after a successful os.replace


def _matches_checksum(path: Path, remote: RemoteFile) -> bool:
    """True if an existing file has one of the accepted checksums."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_SIZE):
            md5.update(chunk)
    return _digest_accepted(md5.hexdigest(), path, remote)


def _digest_accepted(file_md5: str, path: Path, remote: RemoteFile) -> bool:
    """Accept a file by its own MD5, or by the MD5 of its gzip-decompressed content."""
    if file_md5 in remote.md5:
        return True
    if remote.raw_md5 is None:
        return False
    content_md5 = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as file:
            while chunk := file.read(_CHUNK_SIZE):
                content_md5.update(chunk)
    except (OSError, EOFError, zlib.error):
        return False  # not gzip, or a broken stream
    return content_md5.hexdigest() == remote.raw_md5
