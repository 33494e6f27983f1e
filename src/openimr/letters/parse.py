"""Reading IMR Final Determination letters (PDF or text) into :class:`~openimr.models.Letter`.

Interface (implementation in progress):

- ``parse_file(path) -> Letter``: raise ``LetterError`` naming the file and the problem.
- ``parse_text(text, file) -> Letter``: the same from already-extracted text.
- ``parse_paths(paths, jobs=1) -> Iterator[tuple[Path, Letter | LetterError]]``: folders expanded
  to their letters, results in input order, one bad file never stopping the batch.
"""
