"""The protocol of encoders: dict records with string or numeric values to numeric rows."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt

from models._validation import check_mask
from models.exceptions import InvalidInputError

if TYPE_CHECKING:
    from models.base.classifier import Classifier
    from models.preprocessing.encoded_classifier import EncodedClassifier

__all__ = ["Encoder", "Record"]

Record = Mapping[str, Any]
"""A row as a dict: feature name -> a str (categorical) or a real number."""


class Encoder(abc.ABC):
    """Turns dict records, whose values may be strings, into fixed-width float64 rows.

    Encoders sit in front of the numpy models: their input is not a numeric row, and their
    output has its own width (`n_features_out_`), so they are not `Transformer`s (which map a
    numeric row to a row of the same features). `transform_many(records)` returns an
    `(n, n_features_out_)` array; `transform_one(x)` the same row as a dict of its non-zero
    columns, keyed by column name. `learn_many` equals `learn_one` in order, and
    `transform_learn_many` is the test-then-train path a pipeline needs: each record encoded
    with the state before it is learned, and again after. `encoder | classifier` builds an
    `EncodedClassifier`, a binary classifier over dict records.

    Bad input raises `InvalidInputError` and leaves the state unchanged.

    Examples
    --------
    >>> from models.preprocessing import OneHotEncoder
    >>> from models.preprocessing.encoder import Encoder
    >>> encoder = OneHotEncoder(max_categories=2)
    >>> isinstance(encoder, Encoder)
    True
    >>> before, after = encoder.transform_learn_many([{"city": "Paris"}, {"city": "Paris"}])
    >>> before.tolist(), after.tolist()
    ([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    """

    def learn_one(self, x: Record) -> None:
        """Update the state with one record."""
        self._run(self._records([x]), [True])

    def transform_one(self, x: Record) -> dict[str, float]:
        """The encoded record as `{column name: value}` over its non-zero columns."""
        records = self._records([x])
        row, _ = self._run(records, [False])
        return {self._column_name(int(j), x): float(row[0, j]) for j in np.flatnonzero(row[0])}

    def learn_many(self, records: Iterable[Record]) -> None:
        """Learn each record in order, exactly as `learn_one` would."""
        rows = self._records(records)
        self._run(rows, [True] * len(rows))

    def transform_many(self, records: Iterable[Record]) -> npt.NDArray[np.float64]:
        """`(n, n_features_out_)` encoded rows, with the current state (not updated)."""
        rows = self._records(records)
        return self._run(rows, [False] * len(rows))[0]

    def transform_learn_many(
        self, records: Iterable[Record], learn_mask: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """For each record in order: encode it with the current state, then learn it (if
        `learn_mask[i]`, default every record) and encode it again. Returns both
        `(n, n_features_out_)` arrays: `transform_one` then `learn_one` then `transform_one`
        on each record in order."""
        rows = self._records(records)
        mask = check_mask(learn_mask, len(rows))
        return self._run(rows, [True] * len(rows) if mask is None else mask)

    def __or__(self, model: Classifier) -> EncodedClassifier:
        """`encoder | classifier` builds an `EncodedClassifier` over dict records."""
        from models.preprocessing.encoded_classifier import EncodedClassifier

        return EncodedClassifier(self, model)

    @property
    @abc.abstractmethod
    def n_features_out_(self) -> int | None:
        """Width of the encoded rows (None while it is not known yet)."""

    @abc.abstractmethod
    def clone(self) -> Self:
        """A fresh, unfitted encoder with the same hyperparameters."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Learned state as numpy arrays and JSON-able values (a copy)."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`; it is validated before anything is replaced."""

    @abc.abstractmethod
    def _run(
        self, records: list[Record], learn: Sequence[bool]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Validate every record, then for each in order: encode it (first array), learn it if
        `learn[i]`, encode it again (second array). Nothing changes if a record is invalid."""

    @abc.abstractmethod
    def _column_name(self, j: int, x: Record) -> str:
        """The name of output column `j` (`x` is the record being transformed)."""

    @staticmethod
    def _records(records: Iterable[Record]) -> list[Record]:
        if isinstance(records, Mapping | str | bytes | np.ndarray):
            raise InvalidInputError(
                f"expected a sequence of dict records, got {type(records).__name__}"
            )
        rows = list(records)
        for i, x in enumerate(rows):
            if not isinstance(x, Mapping):
                raise InvalidInputError(f"record {i}: expected a dict, got {type(x).__name__}")
            bad = [key for key in x if not isinstance(key, str)]
            if bad:
                raise InvalidInputError(f"record {i}: feature names must be str, got {bad}")
        return rows
