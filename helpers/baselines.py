"""Classical baselines: the honest answer to "do we need an LLM for this at all?"."""
from __future__ import annotations

import re


def fit_tfidf_logreg(texts: list[str], labels: list[str], seed: int = 0):
    """TF-IDF (word 1-2 grams) + logistic regression, fitted on training tickets; returns a classify(texts)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    classifier = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                               LogisticRegression(max_iter=2000, random_state=seed))
    classifier.fit(texts, labels)
    return lambda new_texts: list(classifier.predict(new_texts))


def tfidf_logreg(train_texts: list[str], train_labels: list[str], test_texts: list[str], seed: int = 0) -> list[str]:
    return fit_tfidf_logreg(train_texts, train_labels, seed)(test_texts)


def fit_nearest_note(texts: list[str], notes: list[str]):
    """Retrieval baseline for response feedback: the resolution note of the most similar training ticket
    (TF-IDF cosine); returns a lookup(texts) -> notes. Only tickets that have a note are candidates."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pairs = [(t, n) for t, n in zip(texts, notes) if n]
    if not pairs:
        raise ValueError("no training ticket has a resolution note to look up")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    index = vectorizer.fit_transform([t for t, _ in pairs])
    return lambda new_texts: [pairs[i][1] for i in (vectorizer.transform(new_texts) @ index.T).toarray().argmax(axis=1)]


def keyword_rule(train_texts: list[str], train_labels: list[str], test_texts: list[str]) -> list[str]:
    """One keyword per class, learnt from the training split: the word (alarm names included) that best
    predicts the class, by precision smoothed towards frequent words. A ticket gets the class of the best
    keyword it contains, else the most frequent class. It shows how far a one-keyword lookup gets."""
    from collections import Counter

    word_class, word_total = Counter(), Counter()
    for text, label in zip(train_texts, train_labels):
        for w in _words(text):
            word_class[(w, label)] += 1
            word_total[w] += 1
    rules = []  # (precision, support, word, label): best keyword per class
    for label in sorted(set(train_labels)):
        best = max(((n / (word_total[w] + 2), n, w) for (w, l), n in word_class.items() if l == label and n >= 2),
                   default=None)
        if best:
            rules.append((*best, label))
    rules.sort(reverse=True)
    majority = Counter(train_labels).most_common(1)[0][0]
    out = []
    for text in test_texts:
        words = _words(text)
        out.append(next((label for _, _, w, label in rules if w in words), majority))
    return out


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9_]+", text.lower()))


def fit_minilm_logreg(texts: list[str], labels: list[str], seed: int = 0):
    """MiniLM sentence embeddings + logistic regression (a small neural encoder, no generation);
    returns a classify(texts)."""
    from sklearn.linear_model import LogisticRegression

    from helpers.encoder import embed

    classifier = LogisticRegression(max_iter=2000, random_state=seed, C=10.0)
    classifier.fit(embed(texts), labels)
    return lambda new_texts: list(classifier.predict(embed(new_texts)))


def minilm_logreg(train_texts: list[str], train_labels: list[str], test_texts: list[str], seed: int = 0) -> list[str]:
    return fit_minilm_logreg(train_texts, train_labels, seed)(test_texts)
