"""Save and load checkpoints (``.npz`` + JSON metadata) and prediction CSVs, atomically.

A checkpoint is an ordinary ``.npz`` file: one entry per array, plus the metadata as a JSON
string under the reserved key ``__metadata__``. Files are written to a temporary file in the
same directory, flushed to disk and renamed over the destination with ``os.replace``, so
whoever reads the path sees the old checkpoint or the new one, never half of one, even if
the writing process is killed (a kill may leave a ``.<name>.*.tmp`` file beside it, which the
next successful write of that path removes)::

    from tensorgrad.training.checkpoint import save_checkpoint, load_checkpoint

    save_checkpoint("run/epoch3.npz", {"W1": W1.data, "b1": b1.data}, {"epoch": 3})
    arrays, metadata = load_checkpoint("run/epoch3.npz")   # arrays["W1"], metadata["epoch"]

Nested state, such as an optimizer's ``state_dict()`` (int keys, lists, numbers and arrays),
goes through :func:`flatten_state`, which puts each array under a dotted key
(``optimizer.state.0.exp_avg``) and returns the rest of the structure, arrays replaced by
references, to store in the metadata; :func:`unflatten_state` reverses it::

    arrays, tree = flatten_state("optimizer", opt.state_dict())
    save_checkpoint(path, {**model_arrays, **arrays}, {"optimizer": tree, "epoch": 3})

    arrays, metadata = load_checkpoint(path)
    opt.load_state_dict(unflatten_state(arrays, metadata["optimizer"]))

Metadata is JSON with two extensions so that it comes back as it went in: tuples and dicts
with non-string keys (``{0: ...}``) are tagged, so ``0`` comes back as ``0``, not ``"0"``.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

import numpy as np

__all__ = [
    "CheckpointError", "METADATA_KEY", "save_checkpoint", "load_checkpoint", "flatten_state",
    "unflatten_state", "save_predictions_csv",
]

METADATA_KEY = "__metadata__"
"""The ``.npz`` entry that holds the metadata JSON; no array may use this name."""

# Tags of the metadata JSON (dicts with one of these keys are themselves written tagged, so
# a user's dict can never be mistaken for a tag) and of flatten_state's array references.
_TUPLE, _DICT = "__tuple__", "__dict__"
_ARRAY, _SCALAR = "__array__", "__scalar__"

PathLike = str | os.PathLike


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read: corrupt, truncated or not a checkpoint."""


# --- one atomic writer for every file this module produces -----------------------------------

def _atomic_write(path: PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Create ``path`` with the bytes ``write(file)`` writes, or leave it untouched.

    The data go to a temporary file in the destination's directory (``os.replace`` is only
    atomic within one file system), are flushed and fsync'ed, then the temporary file is
    renamed over ``path`` and the directory is fsync'ed so that the rename itself survives a
    power cut. On any exception, KeyboardInterrupt included, the temporary file is removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                                         suffix=".tmp")
    except OSError as error:  # name the file asked for, not the temporary one
        raise OSError(error.errno, f"cannot write {path!r}: {error.strerror}", path) from None
    try:
        with open(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
            if hasattr(os, "fchmod"):
                # mkstemp makes the file private (0600); a checkpoint is ordinary data, and
                # tensorgrad.data's downloads make the same choice.
                os.fchmod(file.fileno(), 0o644)
        os.replace(temp_path, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        if isinstance(error, OSError) and error.errno is not None:  # e.g. path is a folder
            raise OSError(error.errno, f"cannot write {path!r}: {error.strerror}", path) from None
        raise
    if os.name == "posix":
        _fsync_directory(directory)
    # temporary files of this path left by a writer that was killed: never read, only clutter
    for stale in glob.glob(os.path.join(glob.escape(directory), glob.escape(f".{os.path.basename(path)}.") + "*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(stale)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; some file systems refuse, that's fine)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- metadata: JSON that keeps tuples and non-string keys --------------------------------------

def _encode(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (tagging tuples and non-string-keyed dicts)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value  # (nan and inf are written as NaN / Infinity, which json reads back)
    if isinstance(value, np.generic) and not isinstance(value, (np.void, np.object_)):
        return value.item()  # np.float32(0.5) -> 0.5: metadata holds values, not dtypes
    if isinstance(value, list):
        return [_encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, Mapping):
        keys = list(value)
        if all(isinstance(key, str) for key in keys) and not {_TUPLE, _DICT} & set(keys):
            return {key: _encode(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {_DICT: [[_encode(key, f"{where} key {key!r}"), _encode(item, f"{where}[{key!r}]")]
                        for key, item in value.items()]}
    hint = (" (arrays go in the arrays dict; for nested state use flatten_state)"
            if isinstance(value, np.ndarray) or hasattr(value, "data") else "")
    raise TypeError(f"save_checkpoint: metadata{where} is a {type(value).__name__}, which "
                    f"JSON cannot hold{hint}")


def _decode(value: Any) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(_decode(item) for item in value[_TUPLE])
        if set(value) == {_DICT}:
            # Keys decode like values: 0 -> 0, {"__tuple__": [1, 2]} -> (1, 2).
            return {_decode(key): _decode(item) for key, item in value[_DICT]}
        return {key: _decode(item) for key, item in value.items()}
    return value


# --- checkpoints --------------------------------------------------------------------------------

def save_checkpoint(path: PathLike, arrays: Mapping[str, np.ndarray],
                    metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``arrays`` and ``metadata`` to ``path`` as one ``.npz`` file, atomically (a path
    ending in ``.safetensors`` writes that format instead, with the metadata in its header).

    Args:
        path: destination file; by convention it ends in ``.npz`` (nothing is appended).
            Its directory must exist. An existing file is replaced only once the new one is
            completely on disk.
        arrays: name -> NumPy array. Names are strings (dots and slashes are fine, e.g.
            ``"layer1.weight"``); dtypes and shapes come back bit for bit. Object arrays are
            refused, since loading never unpickles.
        metadata: JSON-style data (dicts, lists, tuples, str, int, float, bool, None; NumPy
            scalars are stored as Python numbers). Dict keys may be ints, and tuples stay
            tuples. Arrays do not belong here: see :func:`flatten_state`.

    Raises:
        TypeError: an entry of ``arrays`` is not an ndarray (or is an object array), or the
            metadata holds something JSON cannot.
        ValueError: an array is named ``"__metadata__"``.
    """
    for name, array in arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"save_checkpoint: array names must be strings, got {name!r}")
        if name == METADATA_KEY:
            raise ValueError(f"save_checkpoint: {METADATA_KEY!r} is reserved for the metadata")
        if not isinstance(array, np.ndarray):
            hint = " (for a Tensor, pass tensor.data)" if hasattr(array, "data") else ""
            raise TypeError(f"save_checkpoint: arrays[{name!r}] must be a numpy.ndarray, got "
                            f"{type(array).__name__}{hint}")
        if array.dtype.hasobject:
            raise TypeError(f"save_checkpoint: arrays[{name!r}] has dtype object, which can only "
                            f"be pickled; checkpoints hold numeric, bool and string arrays")
    # Encode before opening anything, so bad metadata never costs a temporary file.
    text = json.dumps(_encode(dict(metadata or {}), ""), ensure_ascii=False)
    if os.fspath(path).endswith(".safetensors"):  # the format PyTorch, JAX and Hugging Face read
        from ..interop import save_safetensors
        save_safetensors(arrays, path, metadata={"tensorgrad": text})
        return
    entries = {**arrays, METADATA_KEY: np.array(text)}

    def write(file: IO[bytes]) -> None:
        # The layout np.savez writes (an uncompressed zip of .npy files), written here rather
        # than by np.savez(file, **arrays) because np.savez's own parameters would swallow
        # arrays named "file" or "allow_pickle"; and this way nothing is ever pickled.
        with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED,
                             allowZip64=True) as archive:
            for name, array in entries.items():
                with archive.open(name + ".npy", mode="w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    _atomic_write(path, write)


def load_checkpoint(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Any other ``.npz`` file loads too, with empty metadata. Nothing is unpickled
    (``allow_pickle=False``).

    Args:
        path: the ``.npz`` file.

    Returns:
        ``(arrays, metadata)``: name -> ndarray (in memory, the file is closed) and the
        metadata dict, as saved.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ValueError) the file is corrupt, truncated or not an ``.npz``;
            the message names the file.
    """
    path = os.fspath(path)
    try:
        file = open(path, "rb")
    except FileNotFoundError as error:
        # str() of this error is "[Errno 2] load_checkpoint: no checkpoint file: '<path>'"
        raise FileNotFoundError(error.errno, "load_checkpoint: no checkpoint file", path) from None
    with file:
        if _is_safetensors(file):
            file.close()
            from ..interop import load_safetensors
            arrays, header = load_safetensors(path, with_metadata=True)
            metadata = _decode(json.loads(header["tensorgrad"])) if "tensorgrad" in header else {}
            return arrays, metadata
        try:
            loaded = np.load(file, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            with loaded:
                foreign = [name for name in loaded.zip.namelist() if not name.endswith(".npy")]
                if foreign:
                    raise CheckpointError(_foreign_archive_message(path, foreign))
                arrays = {name: loaded[name] for name in loaded.files}
            text = arrays.pop(METADATA_KEY, None)
            metadata = {} if text is None else _decode(json.loads(str(text[()])))
        except CheckpointError:
            raise  # already says what the file is
        # What np.load, zipfile and json raise on cut or damaged bytes: BadZipFile (no or bad
        # zip directory, bad CRC), EOFError / ValueError (short or nonsense .npy header, the
        # refusal to unpickle, bad JSON), OSError / zlib.error (unreadable member), KeyError
        # (a member the directory lists but cannot find).
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, IndexError,
                zlib.error) as error:
            detail = " ".join(str(error).split())  # one line, whatever the library wrote
            if "pickle" in detail:  # NumPy's refusal suggests loading it unsafely: no
                detail = "not an .npz archive"
            raise CheckpointError(f"load_checkpoint: {path!r} is corrupt or truncated, or not a "
                                  f"checkpoint ({type(error).__name__}: {detail})") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(f"load_checkpoint: {path!r} is corrupt or not a checkpoint "
                              f"(its metadata is a {type(metadata).__name__}, not a dict)")
    return arrays, metadata


def _is_safetensors(file: IO[bytes]) -> bool:
    """Whether the open file starts as a safetensors file does: a header length, then '{'."""
    start = file.read(9)
    file.seek(0)
    return len(start) == 9 and start[8:9] == b"{" and int.from_bytes(start[:8], "little") < 100_000_000


def _foreign_archive_message(path: str, members: list[str]) -> str:
    if any(name.endswith("data.pkl") for name in members):
        return (f"load_checkpoint: {path!r} is a PyTorch file (torch.save), not a tensorgrad checkpoint. Load it "
                "with PyTorch, then copy the weights: state = torch.load(path, weights_only=True); "
                "model.load_state_dict({k: v.numpy() for k, v in state.items()}) (or save it with "
                "safetensors.torch.save_file and read that with tg.load_safetensors)")
    return (f"load_checkpoint: {path!r} is a zip archive but not a checkpoint: it holds {members[0]!r}, not only "
            ".npy arrays")


# --- nested state <-> flat arrays + JSON tree -------------------------------------------------

def flatten_state(prefix: str, nested: Any) -> tuple[dict[str, np.ndarray], Any]:
    """Split nested state into arrays under dotted keys and a JSON-ready tree for the rest.

    Every ndarray (and NumPy scalar, kept as a 0-d array so its dtype survives) found in
    dicts, lists and tuples is put under its dotted path, ``prefix`` first: the ``exp_avg``
    of ``{"state": {0: {"exp_avg": a}}}`` with prefix ``"optimizer"`` becomes
    ``arrays["optimizer.state.0.exp_avg"]``. The tree is ``nested`` with each array
    replaced by ``{"__array__": "optimizer.state.0.exp_avg"}``; everything else (ints,
    floats, strings, None, int keys, tuples) stays where it was. Save the arrays with the
    other arrays and the tree in the metadata; :func:`unflatten_state` rebuilds ``nested``.

    Args:
        prefix: the first component of every key (e.g. ``"model"``, ``"optimizer"``), so that
            several states can share one checkpoint; ``""`` for none.
        nested: dicts / lists / tuples of arrays and JSON-style values.

    Returns:
        ``(arrays, tree)``.

    Raises:
        ValueError: two paths give the same key (``{0: a, "0": b}``, or ``"a.b"`` next to
            ``{"a": {"b": ...}}``), or a dict uses the reserved key ``"__array__"`` /
            ``"__scalar__"``.
    """
    arrays: dict[str, np.ndarray] = {}

    def join(path: str, key: Any) -> str:
        return f"{path}.{key}" if path else str(key)

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, (np.ndarray, np.generic)):
            if not path:
                raise ValueError("flatten_state: a top-level array needs a non-empty prefix")
            if path in arrays:
                raise ValueError(f"flatten_state: two entries map to the key {path!r}")
            arrays[path] = np.array(value) if isinstance(value, np.generic) else value
            return {_SCALAR if isinstance(value, np.generic) else _ARRAY: path}
        if isinstance(value, Mapping):
            reserved = {_ARRAY, _SCALAR} & set(value)
            if reserved:
                raise ValueError(f"flatten_state: the key {reserved.pop()!r} at {path!r} is "
                                 f"reserved for array references")
            return {key: walk(item, join(path, key)) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(walk(item, join(path, i)) for i, item in enumerate(value))
        return value  # a leaf for the metadata; save_checkpoint rejects what JSON can't hold

    return arrays, walk(nested, prefix)


def unflatten_state(arrays: Mapping[str, np.ndarray], tree: Any) -> Any:
    """Rebuild the nested state that :func:`flatten_state` split into ``arrays`` and ``tree``.

    Args:
        arrays: a dict holding (at least) the arrays the tree refers to, e.g. the arrays
            returned by :func:`load_checkpoint`; other entries are ignored.
        tree: the tree returned by :func:`flatten_state` (after a trip through the metadata).

    Returns:
        The nested state: same dicts (int keys included), lists, tuples and values, each
        array reference replaced by its array (NumPy scalars by a NumPy scalar).

    Raises:
        KeyError: the tree refers to an array that ``arrays`` does not have.
    """
    def build(value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1 and (_ARRAY in value or _SCALAR in value):
                key = value.get(_ARRAY, value.get(_SCALAR))
                if key not in arrays:
                    raise KeyError(f"unflatten_state: the tree refers to array {key!r}, which is "
                                   f"not among the {len(arrays)} arrays given")
                return arrays[key][()] if _SCALAR in value else arrays[key]
            return {key: build(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(build(item) for item in value)
        return value

    return build(tree)


# --- predictions --------------------------------------------------------------------------------

def save_predictions_csv(path: PathLike, labels: Iterable[int], start_id: int = 1) -> None:
    """Write predicted labels as a two-column CSV, ``ImageId,Label``, atomically.

    This is document 003's ``output.csv`` (a Kaggle digit-recognizer submission): a header
    line, then one ``id,label`` line per prediction with ids counting from ``start_id``::

        ImageId,Label
        1,2
        2,0

    Args:
        path: destination file.
        labels: predicted class indices, e.g. ``probabilities.argmax(axis=1)``; 1-D, integer.
        start_id: the id of the first row.

    Raises:
        ValueError: ``labels`` is not 1-D or holds non-integer values.
    """
    values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(f"save_predictions_csv: labels must be 1-D, got shape {values.shape} "
                         f"(for probabilities, pass argmax(axis=1))")
    if values.size and not (np.issubdtype(values.dtype, np.integer)
                            or (np.issubdtype(values.dtype, np.floating)
                                and np.all(np.isfinite(values))
                                and np.all(values == np.round(values)))):
        raise ValueError(f"save_predictions_csv: labels must be integers, got dtype "
                         f"{values.dtype}")
    ids = range(int(start_id), int(start_id) + values.size)
    lines = ["ImageId,Label"] + [f"{i},{int(label)}" for i, label in zip(ids, values.tolist())]
    text = "\n".join(lines) + "\n"
    _atomic_write(path, lambda file: file.write(text.encode("ascii")))
