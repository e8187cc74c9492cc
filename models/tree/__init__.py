"""Decision trees learned online."""

from __future__ import annotations

from models.tree.hoeffding_tree_classifier import HoeffdingTreeClassifier

__all__ = ["HoeffdingTreeClassifier"]
