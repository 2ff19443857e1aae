"""The six ML signals: features + model per signal; formulas in docs/signals.md ("ML signals").

Feature notation: a band of ``b`` ticks each side of spot (k = 0 is the spot row); "bid
side" = rows k in [-b, -1], "ask side" = k in [1, b]; mean_X(side) is the mean of column X.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spymaster_harness.signals_ml.walk_forward import Model, ml_spec
from spymaster_shared.scoring.signals import ParamSpec, SignalSpec


def _sides(x: np.ndarray, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = (x.shape[0] - 1) // 2
    return x[r - b : r], x[r + 1 : r + b + 1], x[r - b : r + b + 1]


def _asym(cells: Mapping[str, np.ndarray], name: str, b: int) -> float:
    bid, ask, _ = _sides(np.asarray(cells[name], dtype=np.float64), b)
    return float(bid.mean() - ask.mean())


FLOW_COLUMNS = ("v_add", "v_pull", "v_fill", "v_rest_depth", "pressure_variant", "vacuum_variant")


def multi_features(cells: Mapping[str, np.ndarray], flow: np.ndarray, b: int) -> np.ndarray:
    """gbm_mf: bid-minus-ask means of flow_score and the flow velocities, plus d1..d3."""
    fb, fa, _ = _sides(flow, b)
    feats = [float(fb.mean() - fa.mean()), float(fb.mean() + fa.mean())]
    for name in FLOW_COLUMNS:
        feats.append(_asym(cells, name, b))
    for name in ("composite_d1", "composite_d2", "composite_d3"):
        feats.append(float(_sides(np.asarray(cells[name], dtype=np.float64), b)[2].mean()))
    return np.array(feats)


def flow_profile(cells: Mapping[str, np.ndarray], flow: np.ndarray, b: int) -> np.ndarray:
    """knn_cl / svm_sp / pca_ad: the flow_score profile over k in [-b, b] (2b+1 values)."""
    return np.array(_sides(np.asarray(flow, dtype=np.float64), b)[2], dtype=np.float64)


def derivative_features(cells: Mapping[str, np.ndarray], flow: np.ndarray, b: int) -> np.ndarray:
    """lsvm_der: mean composite_d1/d2/d3 on the bid side and the ask side (6 values)."""
    out = []
    for name in ("composite_d1", "composite_d2", "composite_d3"):
        bid, ask, _ = _sides(np.asarray(cells[name], dtype=np.float64), b)
        out += [float(bid.mean()), float(ask.mean())]
    return np.array(out)


def snapshot_features(cells: Mapping[str, np.ndarray], flow: np.ndarray, b: int) -> np.ndarray:
    """xgb_snap: raw snapshot rows k in [-b, b] of rest_depth, v_add, v_pull and composite."""
    parts = [
        _sides(np.asarray(cells[n], dtype=np.float64), b)[2]
        for n in ("rest_depth", "v_add", "v_pull", "composite")
    ]
    return np.concatenate(parts)


class _Standardised(Model):
    """Features standardised with the training mean/std, then a model's score."""

    def __init__(self, X: np.ndarray, fn: Any):
        self.mu = X.mean(axis=0)
        self.sd = X.std(axis=0)
        self.sd[self.sd == 0] = 1.0
        self.fn = fn

    def z(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mu) / self.sd)[None, :]

    def score(self, x: np.ndarray) -> float:
        return float(self.fn(self.z(x)))


def _proba_model(X: np.ndarray, y: np.ndarray, clf: Any) -> Model:
    m = _Standardised(X, None)
    clf.fit((X - m.mu) / m.sd, y)
    up = list(clf.classes_).index(1)
    m.fn = lambda z: 2.0 * clf.predict_proba(z)[0, up] - 1.0
    return m


def _decision_model(X: np.ndarray, y: np.ndarray, clf: Any, scale: float) -> Model:
    m = _Standardised(X, None)
    clf.fit((X - m.mu) / m.sd, y)
    sign = 1.0 if list(clf.classes_) == [-1, 1] else -1.0
    m.fn = lambda z: float(np.tanh(sign * clf.decision_function(z)[0] / scale))
    return m


def fit_gbm(X: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> Model:
    import lightgbm as lgb

    clf = lgb.LGBMClassifier(
        n_estimators=p["n_estimators"],
        learning_rate=p["learning_rate"],
        num_leaves=p["num_leaves"],
        min_child_samples=20,
        subsample=1.0,
        colsample_bytree=1.0,
        random_state=0,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    return _proba_model(X, y, clf)


def fit_knn(X: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> Model:
    from sklearn.neighbors import KNeighborsClassifier

    k = min(int(p["n_neighbors"]), len(y))
    return _proba_model(X, y, KNeighborsClassifier(n_neighbors=k, n_jobs=1))


def fit_lsvm(X: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> Model:
    from sklearn.svm import LinearSVC

    clf = LinearSVC(C=p["C"], random_state=0, max_iter=5000)
    return _decision_model(X, y, clf, p["decision_scale"])


def fit_svm(X: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> Model:
    from sklearn.svm import SVC

    clf = SVC(C=p["C"], kernel="rbf", gamma="scale", random_state=0)
    return _decision_model(X, y, clf, p["decision_scale"])


def fit_hgb(X: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> Model:
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(
        max_iter=p["n_estimators"],
        learning_rate=p["learning_rate"],
        max_leaf_nodes=p["num_leaves"],
        early_stopping=False,
        random_state=0,
    )
    return _proba_model(X, y, clf)


class _PcaAnomaly(Model):
    """Reconstruction error of the profile in the training PCA space, as a z-score against
    training errors, signed by the profile's bid-minus-ask asymmetry."""

    def __init__(self, X: np.ndarray, n_components: int, scale: float):
        from sklearn.decomposition import PCA

        self.mu = X.mean(axis=0)
        n = max(1, min(n_components, X.shape[1] - 1, X.shape[0] - 1))
        self.pca = PCA(n_components=n, svd_solver="full").fit(X - self.mu)
        err = self._err(X - self.mu)
        self.err_mu, self.err_sd = float(err.mean()), float(err.std()) or 1.0
        self.scale = scale
        self.b = (X.shape[1] - 1) // 2

    def _err(self, Xc: np.ndarray) -> np.ndarray:
        back = self.pca.inverse_transform(self.pca.transform(Xc))
        return np.sqrt(((Xc - back) ** 2).sum(axis=1))

    def score(self, x: np.ndarray) -> float:
        z = (self._err((x - self.mu)[None, :])[0] - self.err_mu) / self.err_sd
        asym = float(x[: self.b].mean() - x[self.b + 1 :].mean())
        return float(np.sign(asym) * np.tanh(max(z, 0.0) / self.scale))


def fit_pca(X: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> Model:
    return _PcaAnomaly(X, p["n_components"], p["z_scale"])


_TREES = {
    "n_estimators": ParamSpec(50, 5, 2000, "int", "boosting rounds"),
    "learning_rate": ParamSpec(0.1, 0.001, 1.0, "float", "shrinkage"),
    "num_leaves": ParamSpec(15, 2, 1024, "int", "leaves per tree"),
}
_SCALE = {"decision_scale": ParamSpec(1.0, 0.01, 100.0, "float", "tanh(decision / scale)")}


def ml_signal_specs() -> list[SignalSpec]:
    return [
        ml_spec(
            "gbm_mf",
            "LightGBM on multi-feature flow asymmetries; 2*P(up)-1, walk-forward",
            multi_features,
            fit_gbm,
            _TREES,
        ),
        ml_spec(
            "knn_cl",
            "k-nearest-neighbour classifier on the flow_score profile; 2*P(up)-1",
            flow_profile,
            fit_knn,
            {"n_neighbors": ParamSpec(25, 1, 1000, "int", "neighbours")},
        ),
        ml_spec(
            "lsvm_der",
            "linear SVM on bid/ask composite derivatives; tanh(decision/scale)",
            derivative_features,
            fit_lsvm,
            {"C": ParamSpec(0.1, 1e-4, 1e4, "float", "inverse regularisation"), **_SCALE},
        ),
        ml_spec(
            "pca_ad",
            "PCA anomaly of the flow_score profile, signed by its bid/ask asymmetry",
            flow_profile,
            fit_pca,
            {
                "n_components": ParamSpec(3, 1, 100, "int", "PCA components"),
                "z_scale": ParamSpec(3.0, 0.1, 100.0, "float", "tanh(z / z_scale)"),
            },
        ),
        ml_spec(
            "svm_sp",
            "RBF SVM on the spatial flow_score profile; tanh(decision/scale)",
            flow_profile,
            fit_svm,
            {"C": ParamSpec(1.0, 1e-4, 1e4, "float", "inverse regularisation"), **_SCALE},
        ),
        ml_spec(
            "xgb_snap",
            "gradient-boosted trees (sklearn HistGradientBoosting) on a raw grid snapshot",
            snapshot_features,
            fit_hgb,
            _TREES,
        ),
    ]
