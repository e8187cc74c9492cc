"""CPython's ``random.Random.sample``, many calls at once, from bulk generator output.

Private helper of :mod:`monitor.drift.kswin`: KSWIN's ``update_many`` draws the random samples
of a whole batch here, exactly as the same number of ``rng.sample`` calls would.
"""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt

_SLACK = 1.1  # words fetched for random samples, over the expected number


def _draw_samples(
    rng: random.Random, count: int, population: int, k: int
) -> tuple[npt.NDArray[np.intp], list[int]]:
    """``count`` calls of ``rng.sample(range(population), k)``, from bulk generator output.

    Returns the samples and, after each, how many 32-bit words of generator output had been
    used; the generator is left where the ``count`` calls would have left it. This follows
    CPython's ``Random.sample`` and ``_randbelow_with_getrandbits`` step by step: a draw
    below ``n`` takes one word and keeps its top ``n.bit_length()`` bits, retrying while the
    result is too big (or, in the set method, already taken).
    """
    start = rng.getstate()
    setsize = 21
    if k > 5:
        setsize += 4 ** math.ceil(math.log(k * 3, 4))
    pooled = population <= setsize
    bounds = [population - i for i in range(k)] if pooled else [population]
    shifts = sorted({32 - n.bit_length() for n in bounds})
    tops: dict[int, list[int]] = {shift: [] for shift in shifts}  # words' top bits
    # Draw i keeps a word with probability (population - i) / 2**bits (in the set method
    # too, counting the values already taken): fetch about the expected number of words.
    per_sample = sum(
        (1 << (population - i if pooled else population).bit_length()) / (population - i)
        for i in range(k)
    )

    def more(samples: int) -> None:
        n_words = int(samples * per_sample * _SLACK) + 64
        raw = rng.getrandbits(32 * n_words).to_bytes(4 * n_words, "little")
        words = np.frombuffer(raw, dtype="<u4")
        for shift in shifts:
            tops[shift] += (words >> shift).tolist()

    more(count)
    plan = [(n, tops[32 - n.bit_length()]) for n in bounds]  # each draw's bound and words
    picks: list[int] = []
    pick = picks.append
    used: list[int] = []
    at = 0
    while len(used) < count:
        begin = at
        try:
            if pooled:  # the positions drawn in the shrinking pool
                for n, top in plan:
                    j = top[at]
                    at += 1
                    while j >= n:
                        j = top[at]
                        at += 1
                    pick(j)
            else:  # set method: redraw while taken
                top = plan[0][1]
                seen: set[int] = set()
                for _ in range(k):
                    j = top[at]
                    at += 1
                    while j >= population or j in seen:
                        j = top[at]
                        at += 1
                    seen.add(j)
                    pick(j)
        except IndexError:  # out of words: fetch more and redo this sample
            del picks[len(used) * k :]
            at = begin
            more(count - len(used))
            continue
        used.append(at)
    rng.setstate(start)
    rng.getrandbits(32 * at)
    drawn = np.array(picks, dtype=np.intp).reshape(count, k)
    if not pooled:
        return drawn, used
    # Pool method: the i-th pick takes pool[j] and moves pool[n - i - 1] into its place.
    out = np.empty((count, k), dtype=np.intp)
    step = max(1, (1 << 20) // population)
    for lo in range(0, count, step):
        j_rows = drawn[lo : lo + step]
        rows = np.arange(len(j_rows))
        pool = np.tile(np.arange(population, dtype=np.intp), (len(j_rows), 1))
        for i in range(k):
            taken = j_rows[:, i]
            out[lo : lo + step, i] = pool[rows, taken]
            pool[rows, taken] = pool[:, population - i - 1]
    return out, used
