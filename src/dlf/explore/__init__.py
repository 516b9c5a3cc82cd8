"""dlf explore: the lecture's first half as an interactive app in the browser (gradio, PyTorch behind it).

Pages (one module each): neuron, activations, universality, descent (gradient descent), classify (a playground
in the spirit of TensorFlow Playground). app.py puts them together, server.py starts it, session.py bounds the
work of each session, share.py makes the links that restore a page, svg.py draws the live figures.
workers.py trains in worker processes shared fairly between sessions, livefit.py is Universality's network,
netdraw.py draws the playground's network, loadclient.py speaks the browser's protocol (for load tests).
gradio is imported only by app.py, widgets.py and the pages' build() functions, so the rest works without it.
"""
