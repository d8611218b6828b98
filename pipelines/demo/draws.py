"""Whole-array draws handed out chunk by chunk, with the very values of one whole draw.

The demo's files are a function of the seed, so the order of draws is part of the output:
the writers draw each choice (a phone's form, an administrator's alias) for every row
before the next choice. Writing month by month must not change that, yet a month cannot
wait for the whole array. numpy's generators draw element after element, so n values
drawn in pieces equal n values drawn at once; `chunked_draws` steps the generator through
every draw once, noting where each chunk's share begins, and later draws each chunk from
its own copy of the generator, positioned there. Memory holds one chunk, whatever the scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

Draw = Callable[[np.random.Generator, int], np.ndarray]
"""One whole-array draw: (generator, how many rows) → one value per row."""

SKIP_PIECE = 1 << 20
"""Rows drawn at a time while stepping past a chunk's share: the stepping's memory bound."""


def chunked_draws(
    rng: np.random.Generator, draws: Sequence[Draw], sizes: Sequence[int]
) -> Iterator[list[np.ndarray]]:
    """Per chunk of `sizes`, each of `draws`' values for that chunk, as if each draw had been
    made for all rows at once, in the order of `draws`.

    `rng` is advanced past every draw at the call, not as the chunks are taken, so what the
    caller draws from it next comes after them, as it would after the whole-array draws.
    """
    starts = _chunk_starts(rng, draws, sizes)

    def per_chunk() -> Iterator[list[np.ndarray]]:
        for generators, size in zip(starts, sizes, strict=True):
            yield [draw(g, size) for draw, g in zip(draws, generators, strict=True)]

    return per_chunk()


def _chunk_starts(
    rng: np.random.Generator, draws: Sequence[Draw], sizes: Sequence[int]
) -> list[list[np.random.Generator]]:
    """starts[chunk][draw]: a copy of `rng` where that draw reaches that chunk."""
    starts: list[list[np.random.Generator]] = [[] for _ in sizes]
    for draw in draws:
        for generators, size in zip(starts, sizes, strict=True):
            generators.append(_copy(rng))
            for done in range(0, size, SKIP_PIECE):
                draw(rng, min(SKIP_PIECE, size - done))
    return starts


def _copy(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator in `rng`'s exact state (its buffered half-word included)."""
    bit_generator = type(rng.bit_generator)()
    bit_generator.state = rng.bit_generator.state
    return np.random.Generator(bit_generator)
