"""The import's record splitter (pure): linear on long lines, blind to chunk sizes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.importing.errors import ImportFileError
from registry.importing.text import Record, RecordSplitter

CHUNK = 64 * 1024  # what the loader feeds at most (loader.FEED_BYTES)
LIMIT = 200_000  # a record limit several chunks long
HEADER = b"document,name\r\n"

Failure = tuple[str, int | None]
Outcome = tuple[list[Record], int] | Failure


def split(data: bytes, cuts: list[int], limit: int) -> Outcome:
    """Feed ``data`` cut at ``cuts``: its records and lines counted, or its error.

    Only the error is compared when there is one: the records returned before the
    failing chunk depend on where the chunks end, and the file is refused anyway.
    """
    splitter = RecordSplitter(limit)
    records: list[Record] = []
    bounds = [0, *sorted(cuts), len(data)]
    try:
        for start, end in itertools.pairwise(bounds):
            records += splitter.feed(data[start:end])
        records += splitter.close()
    except ImportFileError as exc:
        return exc.code, exc.line
    return records, splitter.line


def test_a_record_without_a_break_fails_on_the_chunk_that_passes_the_limit() -> None:
    # Four megabytes of an unclosed quote: splitting with a pattern that rescans the
    # rest of the line from every position took minutes on the first chunk alone.
    data = HEADER + b'123,"' + b"x" * (4 * 2**20)
    splitter = RecordSplitter(LIMIT)
    fed = 0
    with pytest.raises(ImportFileError) as caught:
        for start in range(0, len(data), CHUNK):
            splitter.feed(data[start : start + CHUNK])
            fed += 1
    assert (caught.value.code, caught.value.line) == ("line_too_long", 2)
    first_past_limit = (len(HEADER) + LIMIT) // CHUNK  # 0-based index of that chunk
    assert fed == first_past_limit


def test_many_short_lines_in_one_open_quote_fail_at_the_limit() -> None:
    data = HEADER + b'123,"' + b"line\n" * 100_000
    assert split(data, list(range(CHUNK, len(data), CHUNK)), LIMIT) == ("line_too_long", 2)


def test_a_break_split_between_chunks_counts_once() -> None:
    assert split(b"a\r\nb\rc\n", [2, 5], 100) == ([(1, ["a\r\n"]), (2, ["b\r"]), (3, ["c\n"])], 3)


TEXT = st.text(alphabet='ab,"é\r\n', max_size=300)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.data(), st.sampled_from([8, 40, 1000]))
def test_chunk_boundaries_do_not_change_the_records(
    text: str, draw: st.DataObject, limit: int
) -> None:
    data = text.encode()
    cuts = draw.draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=20))
    assert split(data, cuts, limit) == split(data, [], limit)
