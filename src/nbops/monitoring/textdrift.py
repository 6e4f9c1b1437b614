"""Text content drift, evidently 0.7.23's method (``evidently.legacy.utils.data_drift_utils``).

A domain classifier (TF-IDF with sublinear tf, ``max_df=0.5`` and English stop words, then an
L1 ``SGDClassifier`` with modified Huber loss) learns to tell reference texts (label 0) from
current ones (label 1) on a shuffled half of both (``train_test_split``, ``random_state=42``);
its ROC AUC on the other half is the score:

* reference with more than 1,000 texts: ``abs_text_content_drift``, drift when AUC > 0.55;
* otherwise ``perc_text_content_drift``: drift when AUC exceeds the 95th percentile of the AUC
  of 1,000 random classifiers on the same test labels (threshold shown: 0.95).

nbops runs the same classifier on the texts its reference profile kept (all of them up to
5,000, else a uniform bottom-k sample) and on the current texts (all of them up to 5,000, else
the same kind of sample). With at most 5,000 texts on each side, the inputs, in row order, are
evidently's and so is the score.

Example:
    >>> from nbops.monitoring.textdrift import text_drift_score
    >>> ref = [f"the parcel arrived on time, order {i}" for i in range(300)]
    >>> cur = [f"refund requested: item broken, order {i}" for i in range(300)]
    >>> auc, drifted, method = text_drift_score(ref, cur, n_reference=300)
    >>> drifted, method
    (True, 'perc_text_content_drift')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["text_drift_score", "TEXT_THRESHOLDS"]

TEXT_THRESHOLDS = {"abs_text_content_drift": 0.55, "perc_text_content_drift": 0.95}
DISPLAY_NAMES = {"abs_text_content_drift": "Absolute text content drift",
                 "perc_text_content_drift": "Percentile text content drift"}


def _random_auc_percentile(y_test: np.ndarray, p_value: float, iter_num: int = 1000,
                           seed: int = 42) -> float:
    """evidently's ``roc_auc_random_classifier_percentile``, with the AUC from ranks (same
    values as scikit-learn's ``roc_auc_score`` for untied scores, 50x faster)."""
    y = np.asarray(y_test)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    # the draws of evidently's np.random.seed(...) calls, without touching the global state
    seeds = np.random.RandomState(seed).randint(0, iter_num * 10, size=iter_num)
    aucs = np.empty(iter_num)
    for i, s in enumerate(seeds):
        ranks = np.argsort(np.argsort(np.random.RandomState(s).rand(y.size))) + 1
        aucs[i] = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(np.percentile(aucs, 100 * (1 - p_value)))


def text_drift_score(
    reference: Sequence[str], current: Sequence[str], n_reference: int,
    threshold: float | None = None,
) -> tuple[float, bool, str]:
    """(ROC AUC of the domain classifier, drifted, evidently's method name).

    ``n_reference`` is the reference's full count of texts (it picks the method, as in
    evidently); ``reference`` and ``current`` are the texts the classifier sees.
    """
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    method = "abs_text_content_drift" if n_reference > 1000 else "perc_text_content_drift"
    thr = TEXT_THRESHOLDS[method] if threshold is None else threshold
    domain = pd.concat([pd.DataFrame({"text": list(reference), "target": 0}),
                        pd.DataFrame({"text": list(current), "target": 1})])
    x_train, x_test, y_train, y_test = train_test_split(
        domain["text"], domain["target"], test_size=0.5, random_state=42, shuffle=True)
    pipeline = Pipeline([
        ("vectorization", TfidfVectorizer(sublinear_tf=True, max_df=0.5, stop_words="english")),
        ("classification", SGDClassifier(alpha=0.0001, max_iter=50, penalty="l1",
                                         loss="modified_huber", random_state=42)),
    ])
    pipeline.fit(x_train, y_train)
    auc = float(roc_auc_score(y_test, pipeline.predict_proba(x_test)[:, 1]))
    if method == "abs_text_content_drift":
        return auc, auc > thr, method
    return auc, auc > _random_auc_percentile(y_test.to_numpy(), p_value=1 - thr), method
