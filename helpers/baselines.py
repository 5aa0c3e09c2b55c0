"""Classical baselines: the honest answer to "do we need an LLM for this at all?"."""
from __future__ import annotations


def tfidf_logreg(train_texts: list[str], train_labels: list[str], test_texts: list[str], seed: int = 0) -> list[str]:
    """TF-IDF (word 1-2 grams) + logistic regression, trained on the training split; returns test predictions."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    classifier = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                               LogisticRegression(max_iter=2000, random_state=seed))
    classifier.fit(train_texts, train_labels)
    return list(classifier.predict(test_texts))
