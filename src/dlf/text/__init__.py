"""Word vectors: the vocabulary (vocab), word2vec's training kernels (w2v), the vectors (vectors), their scores
(evaluate)."""
