"""The decode cache: one memory-mapped ``uint8`` array per split at the training size, filled once.

``TensorCache`` holds a split's images as ``(N, S, S, 3)`` ``uint8`` in a ``.npy`` opened with
``numpy.lib.format.open_memmap`` (and a ``(N,)`` flag array saying which slots are filled), under
``<cache_dir>/<S>-<resize>/<digest>.npy`` where the digest is taken over the split's validated sha256
values in order: no file name is ever built from a raw manifest value. The first epoch fills slots as
loader workers decode (or :func:`warm_gpu` decodes JPEGs on the GPU in batches); once every slot is
filled, :class:`CachedBatches` reads whole batches straight from the memory map (one fancy-indexing
read, no per-image Python, no worker processes) and augmentation and normalisation run on the device.
Files are created with the user's umask.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from queue import Full, Queue

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"[0-9a-f]{64}")
PREFETCH = 3  # batches read ahead of the training step


def cache_key(sha: object, path: Path) -> str:
    """A safe 64-hex key: the row's sha256 when it is one, else the sha256 of its path."""
    if isinstance(sha, str) and SHA256_RE.fullmatch(sha.lower()):
        return sha.lower()
    return hashlib.sha256(str(path).encode()).hexdigest()


class TensorCache:
    """A split's decoded squares in one memory-mapped ``uint8`` array, shared by workers and ranks.

    Workers open the map lazily (after the fork); a slot is marked filled only after its pixels are
    written, so a half-written slot is decoded again rather than read.
    """

    def __init__(self, folder: Path, keys: Sequence[str], size: int, resize: int) -> None:
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
        self.folder = folder / f"{size}-{resize}"
        self.file = self.folder / f"{digest}.npy"
        self.flags_file = self.folder / f"{digest}.filled.npy"
        self.n, self.size = len(keys), size
        self._data: np.ndarray | None = None
        self._flags: np.ndarray | None = None

    def _open(self) -> None:
        if self._data is not None:
            return
        from numpy.lib.format import open_memmap
        self.folder.mkdir(parents=True, exist_ok=True)
        shape = (self.n, self.size, self.size, 3)
        for file, shp in ((self.file, shape), (self.flags_file, (self.n,))):
            if not file.exists():  # made aside, then linked: ranks racing keep one file
                tmp = file.with_name(f".{file.name}.{os.getpid()}")
                open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shp).flush()
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, file)
                tmp.unlink()
        self._data = open_memmap(self.file, mode="r+")
        self._flags = open_memmap(self.flags_file, mode="r+")
        if self._data.shape != shape or self._flags.shape != (self.n,):
            raise OSError(f"cache file {self.file} has the wrong shape; delete {self.folder}")

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_data": None, "_flags": None}  # maps are reopened in each worker

    def filled(self, i: int) -> bool:
        self._open()
        return bool(self._flags[i])

    def complete(self) -> bool:
        self._open()
        return bool(self._flags.all())

    def get(self, i: int, decode: Callable[[], np.ndarray]) -> np.ndarray:
        """Slot ``i``, decoded with ``decode()`` and stored the first time."""
        self._open()
        if self._flags[i]:
            return np.array(self._data[i])
        arr = decode()
        self.put(i, arr)
        return arr

    def put(self, i: int, arr: np.ndarray) -> None:
        self._open()
        self._data[i] = arr
        self._flags[i] = 1

    def batch(self, indices: np.ndarray, pin: bool = False) -> torch.Tensor:
        """``uint8`` NCHW for ``indices`` in one sorted read of the memory map (into pinned memory,
        from PyTorch's caching host allocator, when ``pin``: one copy, ready for an async transfer)."""
        self._open()
        order = np.argsort(indices, kind="stable")
        out = torch.empty((len(indices), self.size, self.size, 3), dtype=torch.uint8, pin_memory=pin)
        out.numpy()[order] = self._data[indices[order]]
        return out.permute(0, 3, 1, 2)


class CachedBatches:
    """Batches ``(uint8 NCHW, targets, row indices)`` read from a complete :class:`TensorCache`.

    Draws indices from ``sampler`` (or ``range(n)``) like a DataLoader would; ``drop_one`` leaves out a
    final batch of a single image (BatchNorm cannot train on it). Pins memory for CUDA copies.
    """

    def __init__(self, cache: TensorCache, targets: np.ndarray, batch_size: int, sampler: object = None,
                 shuffle: bool = False, drop_one: bool = False, pin: bool = False, seed: int = 0,
                 drop_last: bool = False) -> None:
        self.cache, self.targets = cache, torch.as_tensor(np.array(targets))
        self.batch_size, self.sampler, self.shuffle = batch_size, sampler, shuffle
        self.drop_one, self.pin, self.seed, self.epoch = drop_one, pin, seed, 0
        self.drop_last = drop_last  # every batch full (static shapes)

    def _indices(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            self.epoch += 1
            return torch.randperm(self.cache.n, generator=gen).numpy()
        return np.arange(self.cache.n)

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else self.cache.n
        if self.drop_last:
            return n // self.batch_size
        return n // self.batch_size + (n % self.batch_size > (1 if self.drop_one else 0))

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        idx = self._indices()
        for start in range(0, len(idx), self.batch_size):
            part = idx[start:start + self.batch_size]
            short = len(part) < self.batch_size
            if (self.drop_one and len(part) == 1 and start > 0) or (self.drop_last and short):
                break
            yield self.cache.batch(part, self.pin), self.targets[part], torch.from_numpy(part)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Batches read ``PREFETCH`` ahead by a thread (numpy's copy and pinning release the GIL), so
        the read overlaps the step running on the device."""
        queue: Queue = Queue(maxsize=PREFETCH)
        stop = threading.Event()

        def put(item: object) -> bool:
            while not stop.is_set():
                with contextlib.suppress(Full):
                    queue.put(item, timeout=0.1)
                    return True
            return False

        def produce() -> None:
            try:
                for item in self._batches():
                    if not put(item):
                        return
            except BaseException as exc:  # handed to the consumer, raised there
                put(exc)
                return
            put(None)

        thread = threading.Thread(target=produce, daemon=True, name="cached-batches")
        thread.start()
        try:
            while (item := queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()


def decode_jpegs(data: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """JPEG bytes (1-D ``uint8`` tensors on the CPU) -> ``uint8`` CHW RGB images on ``device``:
    torchcodec's ``decode_jpeg`` in one batch (nvJPEG on CUDA, libjpeg-turbo on the CPU), or Pillow
    when torchcodec cannot be loaded (not installed, or its FFmpeg libraries missing). Raises
    ``RuntimeError`` or ``OSError`` when a file is not a JPEG either can decode."""
    try:
        from torchcodec.decoders import decode_jpeg
    except (ImportError, OSError, RuntimeError) as exc:  # torchcodec loads FFmpeg's libraries
        log.debug("torchcodec unavailable (%s): decoding JPEGs with Pillow", exc)
        return [_pil_decode(d).to(device) for d in data]
    return decode_jpeg(data, mode="RGB", device="cuda" if device.type == "cuda" else "cpu")


def _pil_decode(data: torch.Tensor) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data.numpy().tobytes())) as image:
            rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, ValueError) as exc:
        raise OSError(str(exc)) from exc
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)


def decode_resize(data: list[torch.Tensor], size: int, resize: int, device: torch.device) -> torch.Tensor:
    """JPEG bytes -> ``uint8`` NHWC squares on ``device``: :func:`decode_jpegs` in one batch (nvJPEG
    on CUDA), shorter side resized to ``resize`` (antialiased bilinear), centre crop ``size``."""
    images = decode_jpegs(data, device)
    out = []
    for img in images:
        h, w = img.shape[-2:]
        scale = resize / min(h, w)
        nh, nw = max(resize, round(h * scale)), max(resize, round(w * scale))
        x = F.interpolate(img[None].float(), size=(nh, nw), mode="bilinear", antialias=True,
                          align_corners=False)
        top, left = (nh - size) // 2, (nw - size) // 2
        out.append(x[0, :, top:top + size, left:left + size].round_().clamp_(0, 255).to(torch.uint8))
    return torch.stack(out).permute(0, 2, 3, 1)


def warm_gpu(cache: TensorCache, paths: Sequence[Path], resize: int, device: torch.device,
             batch_size: int = 64, progress: Callable[[int], None] | None = None) -> int:
    """Fill the cache's empty slots whose files are JPEGs by decoding them on ``device`` in batches.

    Returns how many slots were filled; other formats and files the GPU decoder refuses are left for
    the loader workers (PIL). Used before the first epoch when training on CUDA.
    """
    todo = [i for i in range(cache.n) if not cache.filled(i)
            and paths[i].suffix.lower() in (".jpg", ".jpeg")]
    done = 0
    for start in range(0, len(todo), batch_size):
        part = todo[start:start + batch_size]
        try:
            data = [torch.frombuffer(bytearray(paths[i].read_bytes()), dtype=torch.uint8) for i in part]
            squares = decode_resize(data, cache.size, resize, device).cpu().numpy()
        except (RuntimeError, OSError) as exc:  # one bad file fails the batch: leave it to PIL
            log.debug("GPU decode of a batch failed (%s); the loader will decode it", exc)
            continue
        for i, arr in zip(part, squares, strict=True):
            cache.put(i, arr)
        done += len(part)
        if progress:
            progress(len(part))
    return done
