"""Request-time transforms: features derived from stored features and request data."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["TRANSFORMS", "Transform"]

TRANSFORMS = ("ratio", "log", "bucketize", "one_hot")
_ARITY = {"ratio": 2, "log": 1, "bucketize": 1, "one_hot": 1}


@dataclass(frozen=True)
class Transform:
    """A derived feature, computed the same way on the stream (from the event and its
    aggregates) and when serving (from the stored vector and the request's fields):

    * ``ratio`` of two inputs (0.0 when the denominator is 0 or the ratio overflows);
    * ``log``: ``sign(x) * log(1 + |x|)``, defined for any real;
    * ``bucketize``: the index of the bucket ``x`` falls in, given sorted ``boundaries``
      (``x < b0`` → 0, ``b0 <= x < b1`` → 1, …);
    * ``one_hot`` of a categorical field over fixed ``categories`` (an unknown value is all 0).

    >>> ratio = Transform("ratio", ("amount", "amount_mean_5m"))
    >>> ratio.names, ratio.apply({"amount": 30.0, "amount_mean_5m": 10.0})
    (('amount_per_amount_mean_5m',), [3.0])
    >>> t = Transform("one_hot", ("channel",), categories=("web", "app"))
    >>> t.names, t.apply({"channel": "app"})
    (('channel=web', 'channel=app'), [0.0, 1.0])
    >>> Transform("bucketize", ("amount",), boundaries=(10.0, 100.0)).apply({"amount": 50})
    [1.0]
    """

    kind: str
    inputs: tuple[str, ...]
    boundaries: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    alias: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORMS:
            raise ValueError(f"unknown transform {self.kind!r}; known: {TRANSFORMS}")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "boundaries", tuple(float(b) for b in self.boundaries))
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))
        if len(self.inputs) != _ARITY[self.kind]:
            raise ValueError(f"{self.kind} takes {_ARITY[self.kind]} input(s), got {self.inputs}")
        if self.kind == "bucketize" and (
            not self.boundaries or list(self.boundaries) != sorted(set(self.boundaries))
        ):
            raise ValueError("bucketize needs strictly increasing boundaries")
        if self.kind == "one_hot" and (
            not self.categories or len(set(self.categories)) != len(self.categories)
        ):
            raise ValueError("one_hot needs distinct categories")
        if self.alias is not None and self.kind == "one_hot":
            raise ValueError("one_hot names its outputs '<field>=<category>'; no alias")

    @property
    def names(self) -> tuple[str, ...]:
        if self.kind == "one_hot":
            return tuple(f"{self.inputs[0]}={c}" for c in self.categories)
        if self.alias:
            return (self.alias,)
        if self.kind == "ratio":
            return (f"{self.inputs[0]}_per_{self.inputs[1]}",)
        if self.kind == "log":
            return (f"log_{self.inputs[0]}",)
        return (f"{self.inputs[0]}_bucket",)

    def apply(self, values: Mapping[str, object]) -> list[float]:
        """The outputs for one vector; raises KeyError naming a missing input."""
        missing = [i for i in self.inputs if i not in values]
        if missing:
            raise KeyError(f"transform {self.names[0]!r} needs {missing}")
        return self.compute([values[i] for i in self.inputs])

    def compute(self, args: Sequence[object]) -> list[float]:
        """The outputs from the inputs' values, in `inputs` order."""
        if self.kind == "one_hot":
            value = args[0]
            key = value if isinstance(value, str) else _category(value)
            return [1.0 if key == c else 0.0 for c in self.categories]
        x = float(args[0])  # type: ignore[arg-type]  # numeric inputs
        if self.kind == "ratio":
            den = float(args[1])  # type: ignore[arg-type]
            ratio = x / den if den != 0.0 else 0.0
            return [ratio if math.isfinite(ratio) else 0.0]
        if self.kind == "log":
            return [math.copysign(math.log1p(abs(x)), x)]
        return [float(bisect.bisect_right(self.boundaries, x))]

    def bind(self, sources: Sequence[int | str]) -> Bound:
        """`compute` as a function of a vector and an event's fields, reading each input from
        the vector (an int: a position in it) or the fields (a str: the field's name). The
        feature processor binds each transform once instead of gathering its inputs per event.
        """
        if not all(isinstance(p, int) for p in sources) or self.kind == "one_hot":
            return self._bind_general(sources)
        i = sources[0]
        if self.kind == "log":
            return lambda xs, _: [math.copysign(math.log1p(abs(xs[i])), xs[i])]  # type: ignore[index]
        if self.kind == "bucketize":
            edges = self.boundaries
            return lambda xs, _: [float(bisect.bisect_right(edges, xs[i]))]  # type: ignore[index]
        j = sources[1]

        def ratio(xs: Sequence[float], _: Mapping[str, object]) -> list[float]:
            x, den = xs[i], xs[j]  # type: ignore[index]
            r = x / den if den != 0.0 else 0.0
            return [r if math.isfinite(r) else 0.0]

        return ratio

    def _bind_general(self, sources: Sequence[int | str]) -> Bound:
        if self.kind == "one_hot":
            (p,) = sources
            cats = self.categories
            table = {c: [1.0 if c == d else 0.0 for d in cats] for c in cats}
            none = [0.0] * len(cats)

            def one_hot(xs: Sequence[float], fields: Mapping[str, object]) -> list[float]:
                value = xs[p] if isinstance(p, int) else fields[p]
                key = value if isinstance(value, str) else _category(value)
                return list(table.get(key, none))

            return one_hot
        return lambda xs, fields: self.compute(
            [xs[p] if isinstance(p, int) else fields[p] for p in sources]
        )

    def bind_many(self, sources: Sequence[int | str]) -> BoundMany:
        """`bind` for a batch: a function appending each vector's outputs to it, given the
        vectors and the events' fields as columns (field name -> the batch's values, in the
        vectors' order; only the fields the transform reads)."""
        one = self.bind(sources)
        if self.kind == "one_hot" and isinstance(sources[0], str):
            name = sources[0]
            cats = self.categories
            table = {c: [1.0 if c == d else 0.0 for d in cats] for c in cats}
            none = [0.0] * len(cats)

            def one_hot(vectors: Sequence[list[float]], columns: Columns) -> None:
                get = table.get
                for xs, value in zip(vectors, columns[name], strict=True):
                    key = value if value.__class__ is str else _category(value)
                    xs += get(key, none)

            return one_hot
        if self.kind == "one_hot" or not all(isinstance(p, int) for p in sources):
            names = [p for p in sources if isinstance(p, str)]

            def each(vectors: Sequence[list[float]], columns: Columns) -> None:
                rows = zip(*(columns[n] for n in names), strict=True) if names else None
                for xs in vectors:
                    xs += one(xs, dict(zip(names, next(rows), strict=True)) if rows else {})

            return each
        i = sources[0]
        if self.kind == "log":

            def log(vectors: Sequence[list[float]], _: Columns) -> None:
                for xs in vectors:
                    x = xs[i]  # type: ignore[index]
                    xs.append(math.copysign(math.log1p(abs(x)), x))

            return log
        if self.kind == "bucketize":
            edges = self.boundaries

            def bucket(vectors: Sequence[list[float]], _: Columns) -> None:
                for xs in vectors:
                    xs.append(float(bisect.bisect_right(edges, xs[i])))  # type: ignore[index]

            return bucket
        j = sources[1]

        def ratio(vectors: Sequence[list[float]], _: Columns) -> None:
            for xs in vectors:
                x, den = xs[i], xs[j]  # type: ignore[index]
                r = x / den if den != 0.0 else 0.0
                xs.append(r if math.isfinite(r) else 0.0)

        return ratio


# a bound transform: (the vector so far, the event's fields) -> outputs
Bound = Callable[[Sequence[float], Mapping[str, object]], list[float]]
# the events' fields of a batch, by name: one value per event
Columns = Mapping[str, Sequence[object]]
# a transform bound for a batch: (vectors so far, the events' fields) -> None (appends)
BoundMany = Callable[[Sequence[list[float]], Columns], None]


def _category(value: object) -> str:
    """Numbers and bools as the categories a TOML list would spell them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
