"""Plan which piece of which recording every batch row reads at every step (pure functions, no I/O).

Vocabulary: a *chunk* is ``num_tbins * delta_t`` µs, what one batch row reads in one step. A recording of
``n`` whole chunks is cut into *units* (segments) of at most ``max_consecutive_batch`` chunks; a unit is read
in time order by one row, and the row's recurrent memory is reset at the unit's first chunk.

The epoch length does not depend on how recordings are cut: it is ``total_chunks // num_rows`` steps (at least
one), so rescheduling between epochs never changes ``len(loader)``. Units are dealt to rows greedily (each to
the row with the least work so far); a row that runs out before the end of the epoch starts its units over
(marked as padding), a row with more work is cut at the epoch end.

Distributed training: the plan is made for ``world_size * batch_size`` global rows, identically on every rank
(same seed), and rank ``r`` reads rows ``r*B .. r*B + B - 1``, so ranks read disjoint units and take the same
number of steps.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ROUNDING_SLACK_US = 1000
"""A recording shorter than a whole number of chunks by at most this many µs is rounded up."""


@dataclass(frozen=True)
class Unit:
    """``num_chunks`` consecutive chunks of recording ``recording`` starting at chunk ``first_chunk``."""

    recording: int
    first_chunk: int
    num_chunks: int


@dataclass(frozen=True)
class Step:
    """What one row reads at one step: chunk ``chunk`` of ``recording``; ``keep_memory`` is False at a unit start."""

    recording: int
    chunk: int
    keep_memory: bool
    is_padding: bool
    unit_first_chunk: int
    unit_num_chunks: int


def count_chunks(duration_us: int, chunk_us: int) -> int:
    """Whole chunks in a recording of ``duration_us`` (rounded up when within :data:`ROUNDING_SLACK_US`)."""
    return max(0, (int(duration_us) + ROUNDING_SLACK_US) // int(chunk_us))


def cut_units(chunks_per_recording: list[int], max_consecutive_batch: int) -> list[Unit]:
    """Cut every recording into units of at most ``max_consecutive_batch`` chunks (in time order)."""
    mcb = max(1, int(max_consecutive_batch))
    return [
        Unit(rec, first, min(mcb, n - first))
        for rec, n in enumerate(chunks_per_recording)
        for first in range(0, n, mcb)
    ]


def rows_for(num_units: int, batch_size: int, world_size: int) -> int:
    """Batch rows per rank: ``batch_size``, reduced when there are fewer units than global rows (at least 1)."""
    return max(1, min(int(batch_size), num_units // max(1, world_size)))


def deal_units(units: list[Unit], num_rows: int, shuffle: bool, seed: int) -> list[list[Unit]]:
    """Deal units to ``num_rows`` rows, each unit to the least-loaded row (ties: lowest row index)."""
    units = list(units)
    if shuffle:
        random.Random(seed).shuffle(units)
    rows: list[list[Unit]] = [[] for _ in range(num_rows)]
    loads = [0] * num_rows
    for unit in units:
        r = min(range(num_rows), key=lambda i: (loads[i], i))
        rows[r].append(unit)
        loads[r] += unit.num_chunks
    return rows


def row_steps(row_units: list[Unit], all_units: list[Unit], row: int, num_steps: int) -> list[Step]:
    """The ``num_steps`` steps of one row; repeats its units (or borrows others) as padding when short."""
    source = row_units or [all_units[row % len(all_units)]]
    steps: list[Step] = []
    cycle = 0
    while len(steps) < num_steps:
        for unit in source:
            for k in range(unit.num_chunks):
                steps.append(
                    Step(
                        unit.recording,
                        unit.first_chunk + k,
                        k > 0,
                        cycle > 0 or not row_units,
                        unit.first_chunk,
                        unit.num_chunks,
                    )
                )
                if len(steps) == num_steps:
                    return steps
        cycle += 1
    return steps


def make_plan(
    chunks_per_recording: list[int],
    batch_size: int,
    max_consecutive_batch: int = 10**9,
    shuffle: bool = False,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> list[list[Step]]:
    """Plan one epoch for rank ``rank``.

    Args:
        chunks_per_recording: whole chunks in each recording.
        batch_size: requested rows per rank.
        max_consecutive_batch: longest unit, in chunks (curriculum).
        shuffle: shuffle units before dealing them.
        seed: shuffle seed (must be identical on every rank).
        rank, world_size: this process and the number of processes.

    Returns:
        ``plan[row][step]``, ``len(plan)`` rows of equal length.

    Raises:
        ValueError: no recording holds a whole chunk, or ``rank`` is not in ``[0, world_size)``.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, {world_size})")
    units = cut_units(chunks_per_recording, max_consecutive_batch)
    if not units:
        raise ValueError("no recording is long enough for one batch step (num_tbins * delta_t)")
    rows = rows_for(len(units), batch_size, world_size)
    total_rows = rows * world_size
    num_steps = max(1, sum(chunks_per_recording) // total_rows)
    dealt = deal_units(units, total_rows, shuffle, seed)
    mine = range(rank * rows, (rank + 1) * rows)
    return [row_steps(dealt[r], units, r, num_steps) for r in mine]
