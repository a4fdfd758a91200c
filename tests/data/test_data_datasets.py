"""Tests for finding, downloading and loading datasets, and for the bundled MNIST sample.

The core tests use tiny IDX files that they write themselves, and download only from an
http.server on 127.0.0.1. Tests that read the real datasets in ../shared/data exist only
when that directory does (they add checks on the real files; nothing is tested by them
alone).
"""

import dataclasses
import gzip
import hashlib
import http.server
import importlib.util
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tensorgrad.data import (
    DATASET_SOURCES,
    SYSTEM_DATA_DIRS,
    DatasetNotFoundError,
    DatasetSource,
    DownloadError,
    RemoteFile,
    Split,
    class_balanced_indices,
    dataset_search_dirs,
    download_dataset,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
    read_idx,
    read_idx_split,
    write_idx,
)
from tensorgrad.data.datasets import STANDARD_FILES

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
GZ_NAMES = [f"{stem}.gz" for stem in STANDARD_FILES]


def write_tiny_dataset(directory: Path, n_train: int = 20, n_test: int = 10, seed: int = 0,
                       compress: bool = True) -> Split:
    """Write the four standard IDX files with random 28x28 images; return what was written."""
    rng = np.random.default_rng(seed)
    split = Split(
        x_train=rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train) % 10,
        x_test=rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        y_test=np.arange(n_test)[::-1] % 10,
    )
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for stem, array in zip(STANDARD_FILES, split):
        write_idx(directory / f"{stem}{suffix}", array.astype(np.uint8))
    return split


def assert_same_split(actual: Split, expected: Split) -> None:
    assert isinstance(actual, Split)
    for got, want in zip(actual, expected):
        np.testing.assert_array_equal(got, want)
    assert actual.x_train.dtype == np.uint8 and actual.x_train.shape[1:] == (28, 28)
    assert actual.y_train.dtype == np.int64 and actual.y_test.dtype == np.int64


# The real mirror table, saved before any test replaces it.
ORIGINAL_SOURCES = dict(DATASET_SOURCES)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """Keep every test away from the real home, $TENSORGRAD_DATA, system directories
    and the internet: a download a test did not set up goes to a closed local port."""
    monkeypatch.delenv("TENSORGRAD_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setitem(SYSTEM_DATA_DIRS, "fashion-mnist", (tmp_path / "system" / "fashion-mnist",))
    for name, source in ORIGINAL_SOURCES.items():
        monkeypatch.setitem(DATASET_SOURCES, name,
                            dataclasses.replace(source, mirrors=("http://127.0.0.1:9/",)))


# --- finding and loading -----------------------------------------------------------------

def test_load_mnist_from_explicit_root(tmp_path):
    written = write_tiny_dataset(tmp_path / "data")
    assert_same_split(load_mnist(tmp_path / "data"), written)


def test_uncompressed_files_load_too(tmp_path):
    written = write_tiny_dataset(tmp_path / "raw", compress=False)
    assert_same_split(load_fashion_mnist(tmp_path / "raw"), written)


def test_named_subfolder_is_preferred_to_root_itself(tmp_path):
    root = tmp_path / "data"
    mnist = write_tiny_dataset(root / "mnist", seed=1)
    fashion_at_root = write_tiny_dataset(root, seed=2)
    assert_same_split(load_mnist(root), mnist)
    assert_same_split(load_fashion_mnist(root), fashion_at_root)  # no fashion-mnist/ there


def test_environment_variable_is_searched(tmp_path, monkeypatch):
    written = write_tiny_dataset(tmp_path / "env" / "fashion-mnist")
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    assert_same_split(load_fashion_mnist(), written)


def test_root_comes_before_environment_variable(tmp_path, monkeypatch):
    from_root = write_tiny_dataset(tmp_path / "root", seed=1)
    write_tiny_dataset(tmp_path / "env", seed=2)
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    assert_same_split(load_mnist(tmp_path / "root"), from_root)


def test_cache_directory_is_searched(tmp_path):
    written = write_tiny_dataset(tmp_path / "home" / ".cache" / "tensorgrad" / "mnist")
    assert_same_split(load_mnist(), written)


def test_system_directory_is_searched_for_fashion_mnist_only(tmp_path):
    written = write_tiny_dataset(tmp_path / "system" / "fashion-mnist")
    assert_same_split(load_fashion_mnist(), written)
    with pytest.raises(DatasetNotFoundError):
        load_mnist()


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    assert dataset_search_dirs("fashion-mnist", tmp_path / "root") == [
        tmp_path / "root" / "fashion-mnist",
        tmp_path / "root",
        tmp_path / "env" / "fashion-mnist",
        tmp_path / "env",
        tmp_path / "home" / ".cache" / "tensorgrad" / "fashion-mnist",
        tmp_path / "system" / "fashion-mnist",
    ]


def test_not_found_message_lists_every_place_and_the_remedies(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_fashion_mnist(tmp_path / "nowhere")
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert message.startswith("load_fashion_mnist: Fashion-MNIST not found.")
    for directory in dataset_search_dirs("fashion-mnist", tmp_path / "nowhere"):
        assert str(directory) in message
    assert "$TENSORGRAD_DATA is not set" in message
    assert "download=True" in message
    assert "apt install dataset-fashion-mnist" in message
    assert "load_mnist_sample()" in message


def test_not_found_message_for_mnist_has_no_apt_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as caught:
        load_mnist()
    message = str(caught.value)
    assert message.startswith("load_mnist: MNIST not found.")
    assert str(tmp_path / "env" / "mnist") in message
    assert "apt install" not in message
    assert "is not set" not in message


def test_partial_directory_is_reported_and_skipped(tmp_path):
    partial = tmp_path / "partial"
    write_tiny_dataset(partial)
    (partial / "t10k-images-idx3-ubyte.gz").unlink()
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError,
                       match=r"partial \(only 2 of 4 files; missing t10k-images-idx3-ubyte, "
                             r"t10k-labels-idx1-ubyte\)"):
        load_mnist(partial)


def test_image_and_label_counts_must_agree(tmp_path):
    write_tiny_dataset(tmp_path / "data", n_train=20)
    write_idx(tmp_path / "data" / "train-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"load_mnist: .*train-images-idx3-ubyte.gz has 20 images "
                                         r"but .*train-labels-idx1-ubyte.gz has 19 labels"):
        load_mnist(tmp_path / "data")


def test_labels_file_with_wrong_rank_is_rejected(tmp_path):
    write_tiny_dataset(tmp_path / "data", n_test=10)
    write_idx(tmp_path / "data" / "t10k-labels-idx1-ubyte.gz", np.zeros((10, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"labels of shape \(N,\), got .*\(10, 1\)"):
        load_mnist(tmp_path / "data")


def test_read_idx_split_reads_exactly_one_directory(tmp_path, monkeypatch):
    written = write_tiny_dataset(tmp_path / "exact")
    assert_same_split(read_idx_split(tmp_path / "exact"), written)
    write_tiny_dataset(tmp_path / "env")
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=r"read_idx_split: .*empty: missing train-images"):
        read_idx_split(tmp_path / "empty")  # does not fall back to $TENSORGRAD_DATA


# --- downloading from a local server -----------------------------------------------------

class FakeMirrors:
    """An HTTP server on 127.0.0.1 whose answer to each path is scripted by the test.

    ``respond(path, *answers)``: each request to ``path`` takes the next answer, the last
    one repeating. An answer is ``(status, body)``, or ``(status, body, options)`` with
    options ``delay`` (seconds before answering) and ``claimed_length`` (a Content-Length
    larger than the body, to cut the transfer short). Unscripted paths get 404.
    """

    def __init__(self):
        self.answers: dict[str, list[tuple]] = {}
        self.requests: list[str] = []
        mirrors = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mirrors.requests.append(self.path)
                queue = mirrors.answers.get(self.path, [(404, b"not found")])
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                status, body, options = (*answer, {})[:3]
                time.sleep(options.get("delay", 0))
                self.send_response(status)
                self.send_header("Content-Length", str(options.get("claimed_length", len(body))))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass  # keep test output quiet

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def respond(self, path: str, *answers: tuple) -> None:
        self.answers[path] = list(answers)

    def serve_dataset(self, prefix: str, files: dict[str, bytes]) -> None:
        for name, content in files.items():
            self.respond(f"{prefix}{name}", (200, content))

    def requests_to(self, prefix: str) -> list[str]:
        return [path for path in self.requests if path.startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirrors():
    server = FakeMirrors()
    yield server
    server.close()


@pytest.fixture
def tiny_gz_files(tmp_path) -> dict[str, bytes]:
    """The four standard .gz files of a 20-image dataset, as bytes."""
    write_tiny_dataset(tmp_path / "upstream")
    return {name: (tmp_path / "upstream" / name).read_bytes() for name in GZ_NAMES}


def md5_of(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def checksums_for(files: dict[str, bytes]) -> dict[str, str]:
    return {name: md5_of(content) for name, content in files.items()}


def leftover_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def test_download_success(tmp_path, mirrors, tiny_gz_files):
    mirrors.serve_dataset("/m1/", tiny_gz_files)
    target = tmp_path / "downloads"
    result = download_dataset("mnist", target, mirrors=[f"{mirrors.base_url}/m1/"],
                              checksums=checksums_for(tiny_gz_files), backoff=0)
    assert result == target
    assert leftover_files(target) == sorted(GZ_NAMES)  # no .part files
    for name, content in tiny_gz_files.items():
        assert (target / name).read_bytes() == content
        assert (target / name).stat().st_mode & 0o777 == 0o644
    assert read_idx(target / "train-images-idx3-ubyte.gz").shape == (20, 28, 28)
    assert len(mirrors.requests) == 4


def test_files_already_downloaded_are_not_fetched_again(tmp_path, mirrors, tiny_gz_files):
    mirrors.serve_dataset("/m1/", tiny_gz_files)
    options = dict(mirrors=[f"{mirrors.base_url}/m1/"], checksums=checksums_for(tiny_gz_files),
                   backoff=0)
    download_dataset("mnist", tmp_path / "dl", **options)
    (tmp_path / "dl" / "t10k-labels-idx1-ubyte.gz").unlink()
    download_dataset("mnist", tmp_path / "dl", **options)
    assert len(mirrors.requests) == 5  # 4, then only the missing one
    assert mirrors.requests[-1] == "/m1/t10k-labels-idx1-ubyte.gz"


def test_load_with_download_uses_the_module_table_and_root(tmp_path, mirrors, tiny_gz_files,
                                                           monkeypatch):
    mirrors.serve_dataset("/fm/", tiny_gz_files)
    files = tuple(RemoteFile(name, md5=(md5_of(content),))
                  for name, content in tiny_gz_files.items())
    monkeypatch.setitem(DATASET_SOURCES, "fashion-mnist",
                        DatasetSource(mirrors=(f"{mirrors.base_url}/fm/",), files=files))
    split = load_fashion_mnist(tmp_path / "root", download=True)
    assert split.x_train.shape == (20, 28, 28) and split.y_test.dtype == np.int64
    assert leftover_files(tmp_path / "root" / "fashion-mnist") == sorted(GZ_NAMES)
    requests_made = len(mirrors.requests)
    load_fashion_mnist(tmp_path / "root", download=True)  # found now: no new download
    assert len(mirrors.requests) == requests_made


def test_load_with_download_and_no_root_fills_the_cache(tmp_path, mirrors, tiny_gz_files,
                                                        monkeypatch):
    mirrors.serve_dataset("/m/", tiny_gz_files)
    files = tuple(RemoteFile(name, md5=(md5_of(content),))
                  for name, content in tiny_gz_files.items())
    monkeypatch.setitem(DATASET_SOURCES, "mnist",
                        DatasetSource(mirrors=(f"{mirrors.base_url}/m/",), files=files))
    split = load_mnist(download=True)
    assert len(split.y_train) == 20
    cache = tmp_path / "home" / ".cache" / "tensorgrad" / "mnist"
    assert leftover_files(cache) == sorted(GZ_NAMES)


def test_404_on_first_mirror_falls_through_without_retrying(tmp_path, mirrors, tiny_gz_files):
    mirrors.serve_dataset("/good/", tiny_gz_files)  # /bad/ is unscripted: 404 for all
    target = tmp_path / "dl"
    download_dataset("mnist", target,
                     mirrors=[f"{mirrors.base_url}/bad/", f"{mirrors.base_url}/good/"],
                     checksums=checksums_for(tiny_gz_files), attempts=3, backoff=0)
    assert len(mirrors.requests_to("/bad/")) == 4  # once per file: a 404 is not retried
    assert len(mirrors.requests_to("/good/")) == 4
    assert leftover_files(target) == sorted(GZ_NAMES)


def test_checksum_mismatch_falls_through_to_next_mirror(tmp_path, mirrors, tiny_gz_files):
    wrong = {name: content[:-1] + bytes([content[-1] ^ 1]) for name, content in tiny_gz_files.items()}
    mirrors.serve_dataset("/corrupt/", wrong)
    mirrors.serve_dataset("/good/", tiny_gz_files)
    target = tmp_path / "dl"
    download_dataset("mnist", target,
                     mirrors=[f"{mirrors.base_url}/corrupt/", f"{mirrors.base_url}/good/"],
                     checksums=checksums_for(tiny_gz_files), attempts=3, backoff=0)
    assert len(mirrors.requests_to("/corrupt/")) == 4  # bad data: no retry on that mirror
    for name, content in tiny_gz_files.items():
        assert (target / name).read_bytes() == content
    assert leftover_files(target) == sorted(GZ_NAMES)


def test_server_error_is_retried_on_the_same_mirror(tmp_path, mirrors, tiny_gz_files):
    mirrors.serve_dataset("/flaky/", tiny_gz_files)
    name = "train-images-idx3-ubyte.gz"
    mirrors.respond(f"/flaky/{name}", (503, b"busy"), (200, tiny_gz_files[name]))
    target = tmp_path / "dl"
    download_dataset("mnist", target, mirrors=[f"{mirrors.base_url}/flaky/"],
                     checksums=checksums_for(tiny_gz_files), attempts=3, backoff=0)
    assert mirrors.requests.count(f"/flaky/{name}") == 2
    assert (target / name).read_bytes() == tiny_gz_files[name]


def test_transfer_cut_short_is_retried_and_leaves_no_partial_file(tmp_path, mirrors,
                                                                  tiny_gz_files):
    mirrors.serve_dataset("/m/", tiny_gz_files)
    name = "t10k-images-idx3-ubyte.gz"
    content = tiny_gz_files[name]
    mirrors.respond(f"/m/{name}", (200, content[:100], {"claimed_length": len(content)}),
                    (200, content))
    target = tmp_path / "dl"
    download_dataset("mnist", target, mirrors=[f"{mirrors.base_url}/m/"],
                     checksums=checksums_for(tiny_gz_files), attempts=2, backoff=0)
    assert mirrors.requests.count(f"/m/{name}") == 2
    assert (target / name).read_bytes() == content
    assert leftover_files(target) == sorted(GZ_NAMES)


def test_timeout_is_retried_then_reported(tmp_path, mirrors, tiny_gz_files):
    name = "train-images-idx3-ubyte.gz"
    mirrors.respond(f"/slow/{name}", (200, tiny_gz_files[name], {"delay": 1.0}))
    with pytest.raises(DownloadError) as caught:
        download_dataset("mnist", tmp_path / "dl", mirrors=[f"{mirrors.base_url}/slow/"],
                         checksums=checksums_for(tiny_gz_files), attempts=2, timeout=0.2,
                         backoff=0)
    message = str(caught.value)
    assert "attempt 1:" in message and "attempt 2:" in message
    assert "timed out" in message
    assert leftover_files(tmp_path / "dl") == []


def test_total_failure_lists_every_url_and_leaves_nothing_behind(tmp_path, mirrors,
                                                                 tiny_gz_files):
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    wrong = {name: b"not gzip at all" for name in tiny_gz_files}
    mirrors.serve_dataset("/corrupt/", wrong)
    mirror_list = [f"{mirrors.base_url}/missing/", f"{mirrors.base_url}/corrupt/",
                   f"http://127.0.0.1:{closed_port}/"]
    target = tmp_path / "dl"
    with pytest.raises(DownloadError) as caught:
        download_dataset("mnist", target, mirrors=mirror_list,
                         checksums=checksums_for(tiny_gz_files), attempts=2, backoff=0)
    message = str(caught.value)
    assert isinstance(caught.value, OSError)
    assert message.startswith("download_dataset: could not download train-images-idx3-ubyte.gz")
    first = "train-images-idx3-ubyte.gz"
    assert f"{mirrors.base_url}/missing/{first}: attempt 1: HTTP 404" in message
    assert (f"{mirrors.base_url}/corrupt/{first}: checksum mismatch: MD5 "
            f"{md5_of(b'not gzip at all')}, expected {md5_of(tiny_gz_files[first])}") in message
    assert f"http://127.0.0.1:{closed_port}/{first}: attempt 1: URLError" in message
    assert f"http://127.0.0.1:{closed_port}/{first}: attempt 2: URLError" in message
    assert leftover_files(target) == []  # no partial or temporary file


def test_load_with_download_failing_raises_download_error_with_backoff(tmp_path, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr("tensorgrad.data.download.time.sleep", sleeps.append)
    source = DATASET_SOURCES["mnist"]
    monkeypatch.setitem(DATASET_SOURCES, "mnist", dataclasses.replace(
        source, mirrors=("http://127.0.0.1:9/a/", "http://127.0.0.1:9/b/")))
    with pytest.raises(DownloadError) as caught:
        load_mnist(download=True)  # default: 3 attempts per mirror, backoff 1 s doubling
    assert sleeps == [1.0, 2.0, 1.0, 2.0]
    assert str(caught.value).count("http://127.0.0.1:9/") == 6
    assert leftover_files(tmp_path / "home" / ".cache" / "tensorgrad" / "mnist") == []


def test_recompressed_file_is_accepted_by_content_checksum(tmp_path, mirrors, tiny_gz_files,
                                                           monkeypatch):
    # A mirror may serve the same IDX data compressed differently: the .gz MD5 differs,
    # the MD5 of the decompressed content does not.
    recompressed = {name: gzip.compress(gzip.decompress(content), compresslevel=1, mtime=123)
                    for name, content in tiny_gz_files.items()}
    assert all(recompressed[name] != tiny_gz_files[name] for name in GZ_NAMES)
    files = tuple(RemoteFile(name, md5=(md5_of(content),),
                             raw_md5=md5_of(gzip.decompress(content)))
                  for name, content in tiny_gz_files.items())
    monkeypatch.setitem(DATASET_SOURCES, "mnist", DatasetSource(mirrors=(), files=files))
    mirrors.serve_dataset("/re/", recompressed)
    download_dataset("mnist", tmp_path / "ok", mirrors=[f"{mirrors.base_url}/re/"], backoff=0)
    assert leftover_files(tmp_path / "ok") == sorted(GZ_NAMES)

    different_data = {name: gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
                      for name in GZ_NAMES}
    mirrors.serve_dataset("/other/", different_data)
    with pytest.raises(DownloadError, match=r"nor does its decompressed content have MD5"):
        download_dataset("mnist", tmp_path / "bad", mirrors=[f"{mirrors.base_url}/other/"],
                         backoff=0)
    assert leftover_files(tmp_path / "bad") == []


def test_download_argument_errors(tmp_path):
    with pytest.raises(KeyError, match=r"unknown dataset 'cifar'"):
        download_dataset("cifar", tmp_path)
    with pytest.raises(ValueError, match=r"attempts must be at least 1, got 0"):
        download_dataset("mnist", tmp_path, mirrors=["http://127.0.0.1:9/"], attempts=0)
    with pytest.raises(ValueError, match=r"no mirror given for 'mnist'"):
        download_dataset("mnist", tmp_path, mirrors=[])


def test_default_tables_cover_both_datasets():
    for name in ("mnist", "fashion-mnist"):
        source = ORIGINAL_SOURCES[name]
        assert [remote.name for remote in source.files] == GZ_NAMES
        assert all(url.startswith("http") and url.endswith("/") for url in source.mirrors)
        for remote in source.files:
            assert remote.md5 and all(len(digest) == 32 for digest in remote.md5)
            assert remote.raw_md5 is not None and len(remote.raw_md5) == 32


# --- the bundled sample and its builder ---------------------------------------------------

def test_bundled_sample_is_class_balanced():
    split = load_mnist_sample()
    assert split.x_train.shape == (10_000, 28, 28) and split.x_test.shape == (2_000, 28, 28)
    assert split.x_train.dtype == np.uint8 and split.y_train.dtype == np.int64
    assert np.bincount(split.y_train).tolist() == [1000] * 10
    assert np.bincount(split.y_test).tolist() == [200] * 10
    assert split.x_train.max() == 255 and split.x_train.min() == 0
    assert 20 < split.x_train.mean() < 50  # MNIST digits: mostly black background
    assert split.y_train[:50].tolist() != sorted(split.y_train[:50].tolist())  # shuffled


def test_bundled_sample_is_small_and_licensed():
    data_dir = REPO_ROOT / "tensorgrad" / "data"
    assert (data_dir / "mnist_sample.npz").stat().st_size <= 3_000_000
    licence = (data_dir / "SAMPLE_LICENSE.md").read_text()
    assert "CC BY-SA 3.0" in licence and "LeCun" in licence and "tools/make_sample.py" in licence


def test_class_balanced_indices():
    labels = np.array([0] * 5 + [1] * 8 + [2] * 3)
    indices = class_balanced_indices(labels, per_class=3, seed=7)
    assert indices.dtype == np.int64 and len(set(indices.tolist())) == 9
    assert np.bincount(labels[indices]).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(indices, class_balanced_indices(labels, 3, seed=7))
    sorted_indices = class_balanced_indices(labels, 3, seed=7, shuffle=False)
    assert sorted_indices.tolist() == sorted(indices.tolist())
    with pytest.raises(ValueError, match=r"class 2 has only 3 examples, fewer than per_class=4"):
        class_balanced_indices(labels, per_class=4)


def load_make_sample_tool():
    spec = importlib.util.spec_from_file_location("make_sample", REPO_ROOT / "tools" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_sample_tool_builds_a_balanced_reproducible_subset(tmp_path, capsys):
    source = write_tiny_dataset(tmp_path / "source", n_train=60, n_test=30)
    tool = load_make_sample_tool()
    arguments = ["--source", str(tmp_path / "source"), "--train-per-class", "4",
                 "--test-per-class", "2", "--seed", "11"]
    assert tool.main([*arguments, "--output", str(tmp_path / "a.npz")]) == 0
    assert tool.main([*arguments, "--output", str(tmp_path / "b.npz")]) == 0
    assert "per class [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]" in capsys.readouterr().out
    with np.load(tmp_path / "a.npz") as first, np.load(tmp_path / "b.npz") as second:
        for key in first.files:
            np.testing.assert_array_equal(first[key], second[key])
        assert first["x_train"].shape == (40, 28, 28) and first["x_test"].shape == (20, 28, 28)
        assert first["y_train"].dtype == np.uint8
        np.testing.assert_array_equal(first["x_train"], source.x_train[first["train_source_index"]])
        np.testing.assert_array_equal(first["y_test"], source.y_test[first["test_source_index"]])


def test_make_sample_tool_refuses_an_oversized_file(tmp_path, capsys):
    write_tiny_dataset(tmp_path / "source", n_train=30, n_test=10)
    tool = load_make_sample_tool()
    status = tool.main(["--source", str(tmp_path / "source"), "--output", str(tmp_path / "s.npz"),
                        "--train-per-class", "3", "--test-per-class", "1", "--max-bytes", "100"])
    assert status == 1
    assert not (tmp_path / "s.npz").exists()
    assert "over --max-bytes 100" in capsys.readouterr().err


# --- extra checks on the real datasets, only where ../shared/data exists -------------------

if (SHARED_DATA / "mnist").is_dir():

    @pytest.fixture(scope="module")
    def full_mnist() -> Split:
        return read_idx_split(SHARED_DATA / "mnist")

    def test_real_mnist_loads_with_standard_shapes(full_mnist):
        assert full_mnist.x_train.shape == (60_000, 28, 28)
        assert full_mnist.x_test.shape == (10_000, 28, 28)
        assert sorted(set(full_mnist.y_train.tolist())) == list(range(10))

    def test_bundled_sample_matches_the_real_images(full_mnist):
        sample = load_mnist_sample()
        with np.load(REPO_ROOT / "tensorgrad" / "data" / "mnist_sample.npz") as stored:
            train_index, test_index = stored["train_source_index"], stored["test_source_index"]
        np.testing.assert_array_equal(sample.x_train, full_mnist.x_train[train_index])
        np.testing.assert_array_equal(sample.y_train, full_mnist.y_train[train_index])
        np.testing.assert_array_equal(sample.x_test, full_mnist.x_test[test_index])
        np.testing.assert_array_equal(sample.y_test, full_mnist.y_test[test_index])

    @pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
    def test_embedded_checksums_match_the_shared_copies(name):
        for remote in ORIGINAL_SOURCES[name].files:
            content = (SHARED_DATA / name / remote.name).read_bytes()
            assert md5_of(content) in remote.md5
            assert md5_of(gzip.decompress(content)) == remote.raw_md5
