"""Linear read-outs under k-fold cross-validation: how much of a label can a linear model find in some features?

`cross_validate` scores, on the same stratified folds, three classifiers per fold (everything fitted on the
training folds only, including the standardisation, the choice of C and the choice of unit, so nothing leaks
from the held-out fold):

- all units: L1-regularised logistic regression on the standardised features (Radford et al. 2017, Sec. 4.1);
- the single best unit: the unit with the largest |weight| in that L1 model, or the one with the best
  training-fold accuracy on its own (a threshold at the midpoint of the two class means), each then read out
  by a one-feature logistic regression;
- bag of words: binary unigram + bigram features of the text, L2-regularised logistic regression.

`train_test` scores the same three on a fixed train/test split instead (IMDB's 25,000 + 25,000 reviews).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

L1_GRID = (2.0**-6, 2.0**-4, 2.0**-2, 1.0)  # C of the L1 read-out on standardised features
BOW_GRID = (0.1, 0.3, 1.0, 3.0)  # C of the L2 bag-of-words model
INNER_FOLDS = 3
MR_TOKENS = r"\S+"  # MR's sentences come tokenised: punctuation already stands apart
REVIEW_TOKENS = r"\w+(?:'\w+)?|[^\w\s]"  # IMDB's raw text: words (with don't, it's), each punctuation mark
_NEW_API = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)  # `penalty` deprecated in 1.8


def logistic(C: float, l1: bool, seed: int, dual: bool = False) -> LogisticRegression:
    """Logistic regression with an L1 or L2 penalty of strength 1/C (liblinear), across scikit-learn versions.

    `dual` (L2 only) solves the dual problem: much faster when features outnumber examples (bag of words)."""
    common = {"C": C, "solver": "liblinear", "dual": dual and not l1, "random_state": seed}
    if _NEW_API:
        return LogisticRegression(l1_ratio=1.0 if l1 else 0.0, **common)
    return LogisticRegression(penalty="l1" if l1 else "l2", **common)


def make_folds(labels: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k stratified (train, test) index splits, shuffled by `seed`: every read-out uses these same folds."""
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))


def pick_C(fit_score, y: np.ndarray, grid: tuple[float, ...], seed: int, jobs: int = 1) -> float:
    """The C of `grid` with the best mean accuracy over an inner stratified 3-fold split of the training folds.

    `fit_score(C, train_idx, val_idx) -> accuracy`; ties go to the smaller C (the stronger penalty). `jobs` > 1
    fits the len(grid) x 3 models in that many threads (the same numbers).
    """
    inner = make_folds(y, INNER_FOLDS, seed)
    fits = [(C, tr, va) for C in grid for tr, va in inner]
    if jobs > 1:
        accs = Parallel(n_jobs=min(jobs, len(fits)), prefer="threads")(delayed(fit_score)(*f) for f in fits)
    else:
        accs = [fit_score(*f) for f in fits]
    scores = np.reshape(accs, (len(grid), len(inner))).mean(1)  # (len(grid),)
    return grid[int(np.argmax(scores))]


def univariate_unit(x: np.ndarray, y: np.ndarray) -> int:
    """The unit whose threshold at the midpoint of the class means classifies (x, y) best on its own."""
    pos, neg = x[y == 1].mean(0), x[y == 0].mean(0)  # (H,) each
    sign = np.where(pos >= neg, 1.0, -1.0)
    acc = (((x - (pos + neg) / 2) * sign > 0) == (y == 1)[:, None]).mean(0)  # (H,)
    return int(np.argmax(acc))


def unit_accuracy(xtr, ytr, xte, yte, unit: int, seed: int) -> float:
    """Held-out accuracy of a one-feature logistic regression on `unit`."""
    clf = logistic(1.0, False, seed).fit(xtr[:, [unit]], ytr)
    return float(clf.score(xte[:, [unit]], yte))


def states_fold(x, y, train, test, l1_C: float, seed: int, jobs: int = 1) -> dict:
    """All-units and single-unit read-outs for one fold of the features x (N, H)."""
    scaler = StandardScaler().fit(x[train])
    xtr, xte, ytr, yte = scaler.transform(x[train]), scaler.transform(x[test]), y[train], y[test]

    def fit_score(C, tr, va):
        return logistic(C, True, seed).fit(xtr[tr], ytr[tr]).score(xtr[va], ytr[va])

    C = l1_C or pick_C(fit_score, ytr, L1_GRID, seed, jobs)
    clf = logistic(C, True, seed).fit(xtr, ytr)
    weights = clf.coef_[0]  # (H,)
    unit, uni = int(np.argmax(np.abs(weights))), univariate_unit(xtr, ytr)
    return {"acc_all": float(clf.score(xte, yte)), "C": C, "nonzero": int(np.count_nonzero(weights)),
            "unit": unit, "unit_sign": float(np.sign(weights[unit])),
            "acc_unit": unit_accuracy(xtr, ytr, xte, yte, unit, seed),
            "unit_uni": uni, "acc_unit_uni": unit_accuracy(xtr, ytr, xte, yte, uni, seed)}


def bow_fold(texts: list[str], y, train, test, seed: int, tokens: str = MR_TOKENS, jobs: int = 1) -> dict:
    """Binary unigram + bigram bag of words (vocabulary from the training folds), L2 logistic regression."""
    vec = CountVectorizer(ngram_range=(1, 2), binary=True, token_pattern=tokens, lowercase=False)
    xtr = vec.fit_transform([texts[i] for i in train])
    xte = vec.transform([texts[i] for i in test])
    ytr = y[train]

    def fit_score(C, tr, va):
        return logistic(C, False, seed, dual=True).fit(xtr[tr], ytr[tr]).score(xtr[va], ytr[va])

    C = pick_C(fit_score, ytr, BOW_GRID, seed, jobs)
    return {"acc_bow": float(logistic(C, False, seed, dual=True).fit(xtr, ytr).score(xte, y[test])), "bow_C": C}


def one_fold(x, y, texts, train, test, l1_C: float, seed: int) -> dict:
    return states_fold(x, y, train, test, l1_C, seed) | bow_fold(texts, y, train, test, seed)


def cross_validate(x: np.ndarray, y: np.ndarray, texts: list[str], folds: int, seed: int, l1_C: float = 0.0,
                   jobs: int = 1, quiet: bool = True) -> dict:
    """Mean and spread over the folds of every read-out, the unit picked most often and its weight's sign.

    `jobs` > 1 fits that many folds at once in threads (liblinear releases the GIL; the numbers do not change)."""
    splits = make_folds(y, folds, seed)
    if jobs > 1:
        rows = Parallel(n_jobs=min(jobs, folds), prefer="threads")(delayed(one_fold)(x, y, texts, tr, te, l1_C, seed)
                                                 for tr, te in splits)
    else:
        rows = [one_fold(x, y, texts, tr, te, l1_C, seed)
                for tr, te in tqdm(splits, desc="read-out folds", leave=False, disable=True if quiet else None)]
    col = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    unit, unit_folds = Counter(col["unit"].tolist()).most_common(1)[0]
    uni, uni_folds = Counter(col["unit_uni"].tolist()).most_common(1)[0]
    return {
        "mr_cv_acc_all_units": float(col["acc_all"].mean()), "mr_cv_acc_all_units_std": float(col["acc_all"].std()),
        "mr_nonzero_weights": float(col["nonzero"].mean()), "mr_l1_C": float(np.median(col["C"])),
        "mr_cv_acc_best_unit": float(col["acc_unit"].mean()), "mr_cv_acc_best_unit_std": float(col["acc_unit"].std()),
        "best_unit": int(unit), "best_unit_folds": int(unit_folds),
        "best_unit_sign": float(np.sign(col["unit_sign"][col["unit"] == unit].sum())),
        "mr_cv_acc_best_unit_univariate": float(col["acc_unit_uni"].mean()),
        "best_unit_univariate": int(uni), "best_unit_univariate_folds": int(uni_folds),
        "mr_cv_acc_bow": float(col["acc_bow"].mean()), "mr_cv_acc_bow_std": float(col["acc_bow"].std()),
        "mr_bow_C": float(np.median(col["bow_C"])),
    }


def train_test(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               texts_train: list[str], texts_test: list[str], seed: int, l1_C: float = 0.0, jobs: int = 1,
               prefix: str = "imdb") -> dict:
    """The same three read-outs fitted once on a training set and scored on a test set (IMDB: 25,000 and 25,000
    reviews, Maas et al.'s split); C, the standardisation and the unit come from the training set alone."""
    x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    train, test = np.arange(len(x_train)), np.arange(len(x_train), len(x))
    r = states_fold(x, y, train, test, l1_C, seed, jobs)
    r |= bow_fold(list(texts_train) + list(texts_test), y, train, test, seed, REVIEW_TOKENS, jobs)
    return {f"{prefix}_acc_all_units": r["acc_all"], f"{prefix}_nonzero_weights": r["nonzero"],
            f"{prefix}_l1_C": r["C"], f"{prefix}_acc_best_unit": r["acc_unit"], f"{prefix}_best_unit": r["unit"],
            f"{prefix}_best_unit_sign": r["unit_sign"], f"{prefix}_acc_best_unit_univariate": r["acc_unit_uni"],
            f"{prefix}_best_unit_univariate": r["unit_uni"], f"{prefix}_acc_bow": r["acc_bow"],
            f"{prefix}_bow_C": r["bow_C"]}
