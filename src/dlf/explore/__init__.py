"""dlf explore: the lecture's first half as an interactive app in the browser (gradio, PyTorch behind it).

Pages (one module each): neuron, activations, universality, descent (gradient descent), classify (a playground
in the spirit of TensorFlow Playground). app.py puts them together, server.py starts it, session.py bounds the
work of each session, share.py makes the links that restore a page, svg.py draws the live figures.
workers.py trains in worker processes shared fairly between sessions, stream.py carries their frames to the
pages, patch.py updates a figure in the browser. livefit.py and unifig.py are Universality's network and figure;
playfit.py and classfig.py the playground's, netdraw.py draws its network. loadclient.py speaks the browser's
protocol (for load tests).
gradio is imported only by app.py, widgets.py and the pages' build() functions, so the rest works without it.
"""
