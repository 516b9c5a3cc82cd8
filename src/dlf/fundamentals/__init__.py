"""The maths of the lecture's first half, written out explicitly and checked against autograd."""
