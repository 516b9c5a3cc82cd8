"""Explorer pages for trained runs: the lecture's second half, live.

scan.py finds the run folders under a root (`dlf explore --runs DIR`, default runs/) and says, in one line, why a
folder cannot be opened; models.py loads a run's model from its checkpoint (cached, CPU) and computes what the pages
show, without gradio; pages.py lays out one tab per kind of run found; canvas.py holds the drawing canvas's script.
"""
