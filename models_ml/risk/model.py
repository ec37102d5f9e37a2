"""The risk model: scikit-learn pipelines (ColumnTransformer + HistGradientBoosting, logistic baseline), calibrated
(isotonic, cross-fitted) so probabilities mean what they say."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

MODEL_VERSION = "risk-hgb-1"
# Below this many training rows, boosting with 40-row leaves and early stopping learns next to nothing (on a
# 175-row book it predicted one constant); a regularised logistic regression with sigmoid calibration is used.
MIN_BOOSTING_ROWS = 1000


def make_gradient_boosting(numeric: list[str], categorical: list[str], random_state: int = 0) -> Pipeline:
    """HistGradientBoosting on ordinal-encoded categories (native categorical splits) and raw numerics."""
    pre = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1), categorical),
         ("num", "passthrough", numeric)],
        verbose_feature_names_out=False,
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
        categorical_features=list(range(len(categorical))), early_stopping=True, validation_fraction=0.15,
        n_iter_no_change=20, random_state=random_state,
    )
    return Pipeline([("prepare", pre), ("model", model)])


def make_logistic(numeric: list[str], categorical: list[str]) -> Pipeline:
    """The linear baseline: one-hot categories, imputed and scaled numerics."""
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
         ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric)],
    )
    return Pipeline([("prepare", pre), ("model", LogisticRegression(max_iter=2000, C=0.5))])


@dataclass
class RiskModel:
    """A fitted, calibrated classifier plus what it was fitted on (for reasons and the model card)."""

    numeric: list[str]
    categorical: list[str]
    random_state: int = 0
    estimator_: object = None
    reference_: dict = field(default_factory=dict)
    kind_: str = ""

    def fit(self, frame: pd.DataFrame, label: str) -> RiskModel:
        """Fit with isotonic calibration on out-of-fold predictions (5 folds within the training period; the
        held-out test period stays later in time). Small training sets get the logistic model, sigmoid-calibrated."""
        if len(frame) >= MIN_BOOSTING_ROWS:
            base, method = make_gradient_boosting(self.numeric, self.categorical, self.random_state), "isotonic"
            self.kind_ = "gradient boosting"
        else:
            base, method = make_logistic(self.numeric, self.categorical), "sigmoid"
            self.kind_ = f"logistic regression (only {len(frame):,} training rows)"
        folds = 5 if frame[label].value_counts().min() >= 5 else 2
        calibrated = CalibratedClassifierCV(base, method=method, cv=folds, ensemble=True)
        calibrated.fit(frame[self.columns], frame[label])
        self.estimator_ = calibrated
        # A benign reference value per feature, for "what drives this score" reasons.
        good = frame[frame[label] == 0]
        self.reference_ = {c: good[c].median() for c in self.numeric}
        self.reference_.update({c: good[c].mode().iat[0] if len(good) else None for c in self.categorical})
        return self

    @property
    def columns(self) -> list[str]:
        return self.categorical + self.numeric

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator_.predict_proba(frame[self.columns])[:, 1]

    def predict_proba_uncalibrated(self, frame: pd.DataFrame) -> np.ndarray:
        """One cross-fitted member's own probability: smooth (isotonic steps are flat) and a fifth of the cost of
        the calibrated ensemble, which is what reasons need: they compare a score with itself under changes."""
        member = self.estimator_.calibrated_classifiers_[0].estimator
        return member.predict_proba(frame[self.columns])[:, 1]
