"""One-hot encoding of string features into a bounded, fixed number of columns."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.preprocessing.encoder import Encoder, Record

__all__ = ["OneHotEncoder"]

_KEYS = frozenset({"feature_names", "categorical", "categories"})
OTHER = "<other>"


class _Schema:
    """Feature names in order, which are categorical, and each one's first output column."""

    __slots__ = ("categorical", "names", "offsets", "width")

    def __init__(self, names: tuple[str, ...], categorical: tuple[bool, ...], slots: int) -> None:
        self.names, self.categorical = names, categorical
        self.offsets: list[int] = []
        width = 0
        for is_categorical in categorical:
            self.offsets.append(width)
            width += slots + 1 if is_categorical else 1
        self.width = width

    @classmethod
    def infer(cls, x: Record, slots: int, i: int) -> _Schema:
        kinds = []
        for key, value in x.items():
            if isinstance(value, str):
                kinds.append(True)
            elif isinstance(value, numbers.Real):
                kinds.append(False)
            else:
                raise InvalidInputError(
                    f"record {i}, feature {key!r}: expected a str or a real number, "
                    f"got {type(value).__name__}"
                )
        return cls(tuple(x), tuple(kinds), slots)


class OneHotEncoder(Encoder):
    """One column per category of each string feature, learned online, bounded per feature.

    The first record learned fixes the schema: its feature names, in order, and their kinds,
    a str value making a feature categorical and a number numeric. Every later record must have
    the same features with values of the same kinds. The output has, per feature in schema
    order, one column for a numeric feature (the value, passed through) and
    `max_categories + 1` columns for a categorical one: `max_categories` category slots, then
    an *other* column. So the width is fixed as soon as the features are known::

        n_features_out_ = n_numeric + n_categorical * (max_categories + 1)

    Slots are given to categories in the order they first occur in learned records, and never
    change, so a model's weights stay attached to their category. A category without a slot
    (not learned yet, or first seen after the feature's slots were full) sets the other column.
    Before anything is learned, a record is encoded with the schema inferred from itself (all
    its categories in the other columns).

    Parameters
    ----------
    max_categories
        Category slots per categorical feature.

    `transform_one` keys are `"<feature>"` for numbers, `"<feature>_<category>"` for a slot and
    `"<feature>_<other>"` for the other column.

    Examples
    --------
    >>> from models.preprocessing import OneHotEncoder
    >>> encoder = OneHotEncoder(max_categories=2)
    >>> encoder.learn_many([{"city": "Paris", "age": 30}, {"city": "Lyon", "age": 41},
    ...                     {"city": "Nice", "age": 25}])
    >>> encoder.n_features_out_, encoder.feature_names_out_
    (4, ('city_Paris', 'city_Lyon', 'city_<other>', 'age'))
    >>> encoder.transform_one({"city": "Lyon", "age": 52})
    {'city_Lyon': 1.0, 'age': 52.0}
    >>> encoder.transform_many([{"city": "Nice", "age": 0}]).tolist()
    [[0.0, 0.0, 1.0, 0.0]]
    """

    def __init__(self, max_categories: int = 16) -> None:
        if isinstance(max_categories, bool) or not isinstance(max_categories, int):
            raise ValueError(f"max_categories must be an int >= 1, got {max_categories!r}")
        if max_categories < 1:
            raise ValueError(f"max_categories must be an int >= 1, got {max_categories!r}")
        self.max_categories = max_categories
        self._reset()

    def _reset(self) -> None:
        self._schema: _Schema | None = None
        self._categories: list[list[str]] = []  # per feature, in slot order ([] if numeric)
        self._slots: list[dict[str, int]] = []
        self._names_cache: tuple[tuple[int, ...] | None, list[str]] = (None, [])

    @property
    def n_features_out_(self) -> int | None:
        return None if self._schema is None else self._schema.width

    @property
    def feature_names_in_(self) -> tuple[str, ...] | None:
        """The features fixed by the first record learned."""
        return None if self._schema is None else self._schema.names

    @property
    def feature_names_out_(self) -> tuple[str, ...] | None:
        """The output columns' names (empty slots are named `"<feature>_<slot k>"`)."""
        if self._schema is None:
            return None
        return tuple(self._names(self._schema, self._categories))

    def _names(self, schema: _Schema, categories: list[list[str]]) -> list[str]:
        names: list[str] = []
        for name, is_categorical, cats in zip(
            schema.names, schema.categorical, categories, strict=True
        ):
            if not is_categorical:
                names.append(name)
                continue
            names.extend(f"{name}_{c}" for c in cats)
            names.extend(f"{name}_<slot {k}>" for k in range(len(cats), self.max_categories))
            names.append(f"{name}_{OTHER}")
        return names

    def clone(self) -> Self:
        return type(self)(max_categories=self.max_categories)

    def _run(
        self, records: list[Record], learn: Sequence[bool]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        schema = self._schema
        if schema is None and records:
            schema = _Schema.infer(records[0], self.max_categories, 0)
        width = 0 if schema is None else schema.width
        before = np.zeros((len(records), width))
        after = np.zeros((len(records), width))
        if schema is None:
            return before, after
        categories, slots = self._categories, self._slots
        if self._schema is None:
            categories, slots = [[] for _ in schema.names], [{} for _ in schema.names]
        if any(learn):  # work on copies until every record is valid
            categories, slots = [list(c) for c in categories], [dict(s) for s in slots]
        names, kinds, size = schema.names, schema.categorical, self.max_categories
        learned = False
        for i, (x, learn_i) in enumerate(zip(records, learn, strict=True)):
            if len(x) != len(names) or not all(name in x for name in names):
                missing = [name for name in names if name not in x]
                unknown = [key for key in x if key not in set(names)]
                raise InvalidInputError(
                    f"record {i}: features do not match the schema: "
                    f"missing {missing}, unknown {unknown}"
                )
            for j, name in enumerate(names):
                value, offset = x[name], schema.offsets[j]
                if not kinds[j]:
                    number = self._number(value, i, name)
                    before[i, offset] = after[i, offset] = number
                    continue
                if not isinstance(value, str):
                    raise InvalidInputError(
                        f"record {i}, feature {name!r}: expected a str (a categorical "
                        f"feature), got {type(value).__name__}"
                    )
                slot = slots[j].get(value)
                before[i, offset + (size if slot is None else slot)] = 1.0
                if slot is None and learn_i and len(categories[j]) < size:
                    slot = slots[j][value] = len(categories[j])
                    categories[j].append(value)
                after[i, offset + (size if slot is None else slot)] = 1.0
            learned = learned or learn_i
        if learned:
            if self._schema is None:
                self._names_cache = (None, [])
            self._schema, self._categories, self._slots = schema, categories, slots
        return before, after

    @staticmethod
    def _number(value: object, i: int, name: str) -> float:
        if isinstance(value, str) or not isinstance(value, numbers.Real):
            raise InvalidInputError(
                f"record {i}, feature {name!r}: expected a real number (a numeric feature), "
                f"got {type(value).__name__}"
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise InvalidInputError(
                f"record {i}, feature {name!r}: value is {number}, expected a finite number"
            )
        return number

    def _column_name(self, j: int, x: Record) -> str:
        if self._schema is None:  # before learning: the record's own schema
            schema = _Schema.infer(x, self.max_categories, 0)
            return self._names(schema, [[] for _ in schema.names])[j]
        key = tuple(len(c) for c in self._categories)  # slots only ever fill up
        if self._names_cache[0] != key:
            self._names_cache = (key, self._names(self._schema, self._categories))
        return self._names_cache[1][j]

    def state_dict(self) -> dict[str, Any]:
        """The schema (`feature_names`, `categorical` flags) and each feature's `categories`
        in slot order, JSON-able (all None before the first record learned)."""
        if self._schema is None:
            return {"feature_names": None, "categorical": None, "categories": None}
        return {
            "feature_names": list(self._schema.names),
            "categorical": list(self._schema.categorical),
            "categories": [list(c) for c in self._categories],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != _KEYS:
            raise InvalidInputError(f"expected state keys {sorted(_KEYS)}, got {sorted(state)}")
        names, kinds, categories = state["feature_names"], state["categorical"], state["categories"]
        if names is None and kinds is None and categories is None:
            self._reset()
            return
        if not (
            isinstance(names, list | tuple)
            and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names)
            and isinstance(kinds, list | tuple)
            and all(isinstance(k, bool) for k in kinds)
            and isinstance(categories, list | tuple)
            and len(names) == len(kinds) == len(categories)
        ):
            raise InvalidInputError(
                "feature_names (distinct strs), categorical (bools) and categories (lists) "
                "must have the same length"
            )
        for name, is_categorical, cats in zip(names, kinds, categories, strict=True):
            if (
                not isinstance(cats, list | tuple)
                or not all(isinstance(c, str) for c in cats)
                or len(set(cats)) != len(cats)
                or len(cats) > (self.max_categories if is_categorical else 0)
            ):
                raise InvalidInputError(
                    f"categories of {name!r} must be at most "
                    f"{self.max_categories if is_categorical else 0} distinct strs"
                )
        self._reset()
        self._schema = _Schema(tuple(names), tuple(kinds), self.max_categories)
        self._categories = [list(c) for c in categories]
        self._slots = [{c: k for k, c in enumerate(cats)} for cats in self._categories]
