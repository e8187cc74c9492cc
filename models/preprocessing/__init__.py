"""Online feature preprocessing.

`StandardScaler` and `MinMaxScaler` are `Transformer`s: numeric rows in, rows of the same
features out. `FeatureHasher` and `OneHotEncoder` are `Encoder`s: dict records whose values
may be strings in, fixed-width numeric rows out; `encoder | classifier` is an
`EncodedClassifier` over dict records.
"""

from __future__ import annotations

from models.preprocessing.encoded_classifier import EncodedClassifier
from models.preprocessing.encoder import Encoder
from models.preprocessing.feature_hasher import FeatureHasher
from models.preprocessing.min_max_scaler import MinMaxScaler
from models.preprocessing.one_hot_encoder import OneHotEncoder
from models.preprocessing.standard_scaler import StandardScaler

__all__ = [
    "EncodedClassifier",
    "Encoder",
    "FeatureHasher",
    "MinMaxScaler",
    "OneHotEncoder",
    "StandardScaler",
]
