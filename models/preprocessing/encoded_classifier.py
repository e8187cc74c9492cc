"""An encoder in front of a binary classifier: a classifier over dict records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._validation import check_label, check_labels, check_mask
from models.base.classifier import Classifier
from models.exceptions import InvalidInputError
from models.preprocessing.encoder import Encoder, Record

__all__ = ["EncodedClassifier"]


class EncodedClassifier:
    """`encoder | classifier`: dict records (strings allowed) in, a binary classifier's output.

    Follows River's `compose.Pipeline`: predicting encodes the record with the encoder's current
    state; learning updates the encoder with the record, encodes it again and lets the
    classifier learn the result. The array methods take a sequence of records and give exactly
    the results of the dict methods called in order: `predict_learn_many` runs the classifier's
    own `predict_learn_many` over the encoded rows, splitting the batch only at records whose
    encoding changes by learning them (a `OneHotEncoder` giving a category its slot). The steps
    are shared, not copied.

    It is not a `Classifier` (whose array methods take numeric matrices), so it is outside the
    numeric conformance suite; its own tests check the same properties.

    Parameters
    ----------
    encoder
        A `FeatureHasher`, a `OneHotEncoder`, ...
    model
        A binary `Classifier`, e.g. `LogisticRegression()` or `StandardScaler() | ...`.

    Examples
    --------
    >>> import random
    >>> from models import LogisticRegression
    >>> from models.optim import SGD
    >>> from models.preprocessing import FeatureHasher
    >>> rng = random.Random(1)
    >>> model = FeatureHasher(n_features=64, seed=0) | LogisticRegression(optimizer=SGD(0.5))
    >>> records = [{"colour": rng.choice(["red", "blue", "green"])} for _ in range(300)]
    >>> labels = [int(x["colour"] == "red") for x in records]
    >>> probas = model.predict_learn_many(records, labels)
    >>> [round(model.predict_proba_one({"colour": c})[1], 2) for c in ("red", "blue")]
    [0.98, 0.02]
    """

    def __init__(self, encoder: Encoder, model: Classifier) -> None:
        if not isinstance(encoder, Encoder):
            raise ValueError(f"encoder must be an Encoder, got {encoder!r}")
        if not isinstance(model, Classifier):
            raise ValueError(f"model must be a binary Classifier, got {model!r}")
        self.encoder = encoder
        self.model = model

    def clone(self) -> Self:
        return type(self)(self.encoder.clone(), self.model.clone())

    def learn_one(self, x: Record, y: int | bool) -> None:
        """Learn one record with binary label `y`."""
        label = check_label(y)
        records = Encoder._records([x])
        self._check_width(records)
        _, after = self.encoder.transform_learn_many(records)
        self.model.learn_many(after, np.array([label]))

    def predict_proba_one(self, x: Record) -> dict[int, float]:
        """`{0: P(y=0), 1: P(y=1)}` for one record; nothing is learned."""
        proba = self.predict_proba_many([x])[0]
        return {0: float(proba[0]), 1: float(proba[1])}

    def predict_one(self, x: Record) -> int:
        """The most probable label (0 on a tie)."""
        proba = self.predict_proba_one(x)
        return 1 if proba[1] > proba[0] else 0

    def learn_many(self, records: Iterable[Record], y: npt.ArrayLike) -> None:
        """Learn each record in order, exactly as `learn_one` would."""
        rows = Encoder._records(records)
        labels = np.array(check_labels(y, len(rows)))
        self._check_width(rows)
        _, after = self.encoder.transform_learn_many(rows)
        self.model.learn_many(after, labels)

    def predict_proba_many(self, records: Iterable[Record]) -> npt.NDArray[np.float64]:
        """`(n, 2)` probabilities; nothing is learned."""
        rows = Encoder._records(records)
        self._check_width(rows)
        return self.model.predict_proba_many(self.encoder.transform_many(rows))

    def predict_many(self, records: Iterable[Record]) -> npt.NDArray[np.int64]:
        """The most probable label of each record (0 on a tie)."""
        proba = self.predict_proba_many(records)
        return (proba[:, 1] > proba[:, 0]).astype(np.int64)

    def predict_learn_many(
        self,
        records: Iterable[Record],
        y: npt.ArrayLike,
        learn_mask: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float64]:
        """Test-then-train over the records in order; returns P(y=1) of each.

        Record `i` is predicted with the state before learning it, then learned if
        `learn_mask[i]` (default: every record); records not learned may carry any numeric
        label. Equal to `predict_proba_one` then `learn_one` record by record."""
        rows = Encoder._records(records)
        n = len(rows)
        mask = check_mask(learn_mask, n)
        check_labels(y, n, mask)
        learn = np.ones(n, dtype=bool) if mask is None else np.array(mask, dtype=bool)
        labels = np.asarray(y)
        self._check_width(rows)
        before, after = self.encoder.transform_learn_many(rows, learn)
        out = np.empty(n, dtype=np.float64)
        start = 0
        # Split where learning a record changed its own encoding; elsewhere before == after.
        for i in np.flatnonzero((before != after).any(axis=1)).tolist():
            if i > start:
                out[start:i] = self.model.predict_learn_many(
                    after[start:i], labels[start:i], learn[start:i]
                )
            out[i] = self.model.predict_proba_many(before[i : i + 1])[0, 1]
            if learn[i]:
                self.model.learn_many(after[i : i + 1], labels[i : i + 1])
            start = i + 1
        if start < n:
            out[start:] = self.model.predict_learn_many(
                after[start:], labels[start:], learn[start:]
            )
        return out

    def _check_width(self, records: list[Record]) -> None:
        """The encoder's width must be the model's (checked before anything learns)."""
        expected = self.model.n_features_in_
        if expected is None or not records:
            return
        width = self.encoder.n_features_out_
        if width is None:
            width = self.encoder.transform_many(records[:1]).shape[1]
        if width != expected:
            raise InvalidInputError(
                f"the encoder gives {width} columns but the model was fitted on {expected}"
            )

    def state_dict(self) -> dict[str, Any]:
        """The encoder's state (`encoder.<key>`) and the model's (`model.<key>`)."""
        state = {f"encoder.{k}": v for k, v in self.encoder.state_dict().items()}
        state.update({f"model.{k}": v for k, v in self.model.state_dict().items()})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`; both parts are validated before either is replaced."""
        parts: dict[str, dict[str, Any]] = {"encoder": {}, "model": {}}
        for key, value in state.items():
            head, _, name = key.partition(".")
            if head not in parts or not name:
                raise InvalidInputError(f"unexpected state key {key!r}")
            parts[head][name] = value
        self.encoder.clone().load_state_dict(parts["encoder"])
        self.model.clone().load_state_dict(parts["model"])
        self.encoder.load_state_dict(parts["encoder"])
        self.model.load_state_dict(parts["model"])
