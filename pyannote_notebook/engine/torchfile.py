"""Read PyTorch's legacy (non-zip) ``.pt`` files into numpy arrays, without torch.

Why hand-written: the only weights of a good speaker encoder that ship in a PyPI wheel
(resemblyzer's ``pretrained.pt``) are in PyTorch's legacy serialization, and importing torch is
exactly what the local engine must avoid (it is several GB). The format is small and stable:

1. three pickles: magic number, protocol version, system info;
2. the pickled object (a state dict); tensors appear as ``torch._utils._rebuild_tensor_v2(
   storage, offset, size, stride, ...)`` and storages as *persistent ids*
   ``("storage", <storage type>, key, location, numel, view_metadata)``;
3. a pickled list of storage keys;
4. for each key in that order: an int64 element count then the raw little-endian bytes.

Security: a pickle can call any importable function. :class:`RestrictedUnpickler` resolves only
``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the ``torch.*Storage``
names (mapped to local placeholders: torch is never imported); anything else raises
:class:`~pyannote_notebook.errors.EngineError` before it runs.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from pyannote_notebook.errors import EngineError

__all__ = ["RestrictedUnpickler", "load_legacy_torch", "LEGACY_MAGIC"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return _STORAGE_DTYPES[self.name]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass
class _PendingTensor:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage: _StorageRef, storage_offset: int, size: tuple[int, ...],
                       stride: tuple[int, ...], *args: Any) -> _PendingTensor:
    """Placeholder for ``torch._utils._rebuild_tensor_v2``: remember where the data lives."""
    if not isinstance(storage, _StorageRef):
        raise EngineError("malformed tensor record in a .pt file (storage is not a storage id)")
    return _PendingTensor(storage, int(storage_offset), tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only resolves the globals a legacy tensor state dict needs.

    Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``...) raises
    :class:`EngineError` naming it; nothing from the file is executed.
    """

    def __init__(self, file: IO[bytes], *, source: str = "<stream>") -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise EngineError(
            f"{self.source}: refused to load global {module}.{name} from a pickle; only tensor "
            "state dicts are accepted (the file may be corrupt or malicious)"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if (not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType)):
            raise EngineError(
                f"{self.source}: unsupported persistent id in a .pt file: {pid!r:.80}")
        _, stype, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise EngineError(f"{self.source}: storage views are not supported")
        return _StorageRef(str(key), stype.dtype, int(numel))


def _materialise(obj: Any, storages: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, _PendingTensor):
        base = storages[obj.storage.key]
        item = base.itemsize
        n_needed = obj.offset + 1 + sum((s - 1) * st for s, st in zip(obj.size, obj.stride))
        if obj.size and min(obj.size) > 0 and n_needed > base.size:
            raise EngineError("tensor extends past its storage in a .pt file (truncated?)")
        arr = np.lib.stride_tricks.as_strided(
            base[obj.offset:], shape=obj.size, strides=tuple(s * item for s in obj.stride)
        )
        return np.array(arr, copy=True)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _materialise(v, storages)
        return out
    if isinstance(obj, list):
        return [_materialise(v, storages) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, storages) for v in obj)
    return obj


def load_legacy_torch(path: str | Path) -> Any:
    """Load a legacy-format ``.pt`` file; tensors come back as numpy arrays.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    object
        The pickled object (usually a dict) with every tensor replaced by a ``numpy.ndarray``.

    Raises
    ------
    EngineError
        The file is not a legacy torch file, is truncated, or its pickle refers to a global
        outside the allow-list (nothing is executed in that case).
    """
    path = Path(path)
    src = str(path)
    try:
        with open(path, "rb") as f:
            def load() -> Any:
                return RestrictedUnpickler(f, source=src).load()

            magic = load()
            if magic != LEGACY_MAGIC:
                raise EngineError(f"{src}: not a legacy PyTorch file (bad magic number)")
            protocol = load()
            if protocol != 1001:
                raise EngineError(f"{src}: unsupported PyTorch protocol version {protocol!r}")
            _sys_info = load()
            result = load()
            keys = load()
            storages: dict[str, np.ndarray] = {}
            refs = _collect_refs(result)
            for key in keys:
                key = str(key)
                count = np.frombuffer(f.read(8), dtype="<i8")
                if count.size != 1:
                    raise EngineError(f"{src}: truncated storage table")
                ref = refs.get(key)
                dtype = ref.dtype if ref is not None else np.dtype("u1")
                nbytes = int(count[0]) * dtype.itemsize
                raw = f.read(nbytes)
                if len(raw) != nbytes:
                    raise EngineError(f"{src}: truncated storage {key}")
                storages[key] = np.frombuffer(raw, dtype=dtype)
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        if isinstance(exc, EngineError):
            raise
        raise EngineError(f"{src}: cannot read as a legacy PyTorch file: {exc}") from exc
    return _materialise(result, storages)


def _collect_refs(obj: Any, acc: dict[str, _StorageRef] | None = None) -> dict[str, _StorageRef]:
    acc = {} if acc is None else acc
    if isinstance(obj, _PendingTensor):
        acc[obj.storage.key] = obj.storage
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect_refs(v, acc)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _collect_refs(v, acc)
    return acc
