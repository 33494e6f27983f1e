"""Bulk ingest, here or on a Dask cluster where each worker parses letters and stores them itself.

Dask (``distributed``) rather than Ray: it is pure Python wheels that install anywhere the project
does, a :class:`~distributed.LocalCluster` starts in a couple of seconds on a laptop or in CI, and a
real cluster is two commands (``dask scheduler``, ``dask worker ADDR``) with no cluster services
to run beside it. Each task is one file: parse, hash, and store it in one transaction through
:func:`openimr.store.ingest.store_letter`, so the database holds exactly what the local path stores,
and a rerun (or a task retried after a lost worker) leaves a stored letter as it is.

Workers need to read the files (a shared file system, at the same paths) and reach the database:
use PostgreSQL as the sink for a real cluster; SQLite works with a local cluster only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from openimr.core.letters.extract import expand_paths
from openimr.core.letters.parse import bytes_or_error
from openimr.services.options import IngestEngine
from openimr.store.db import Store
from openimr.store.ingest import IngestReport, Progress, ingest_file, ingest_paths, store_results


def ingest_dask(
    paths: Iterable[Path],
    store: Store,
    address: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the letters at *paths* like :func:`~openimr.store.ingest.ingest_paths`, on Dask.

    With *address* (``tcp://host:8786``) the scheduler there runs the tasks; without it, a local
    cluster of *workers* processes (default: one per CPU) is started for the batch and shut down.
    Each worker opens *store*'s URL as it is: the schema is upgraded once, by whoever opened *store*.
    """
    from dask.distributed import Client, LocalCluster

    files = [str(p.resolve()) for p in expand_paths(list(paths))]
    report = IngestReport()
    if address:
        client, cluster = Client(address), None
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        client = Client(cluster)
    try:
        futures = client.map(ingest_file, files, db_url=store.url, pure=False)
        for path, future in zip(files, futures, strict=True):
            outcome, detail = future.result()
            if outcome == "error":
                report.errors.append(detail)
            else:
                (report.stored if outcome == "stored" else report.unchanged).append(detail)
            if progress:
                progress(Path(path), outcome, detail if outcome == "error" else None)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return report


def ingest(
    paths: Iterable[Path],
    store: Store,
    engine: IngestEngine = IngestEngine.local,
    address: str | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the letter files *paths* into *store*: here with *jobs* parser processes
    (:func:`~openimr.store.ingest.ingest_paths`), or on Dask with *jobs* local workers or the
    scheduler at *address* (:func:`ingest_dask`)."""
    if engine is IngestEngine.dask:
        return ingest_dask(paths, store, address, jobs, progress)
    return ingest_paths(paths, store.engine, jobs, progress)


def ingest_uploads(uploads: Iterable[tuple[str, bytes]], store: Store) -> IngestReport:
    """Ingest uploaded letter files, each a (file name, bytes), into *store*: read from memory (no
    file written), each error naming the upload's file name, never a path on the server."""
    parsed = ((name, bytes_or_error(data, name)) for name, data in uploads)
    return store_results(parsed, store.engine)
