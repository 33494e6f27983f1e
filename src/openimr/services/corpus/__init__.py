"""The decision corpus: search, similar past decisions, statistics, export and distributed ingest."""
