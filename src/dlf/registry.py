"""Every experiment, the lecture concept it shows, and the module that holds its config and its `run`.

An experiment module defines `Config` (a dataclass derived from `dlf.config.BaseConfig`) and
`run(cfg, run) -> dict`, which computes, logs through `run.log`, saves plots through `run.save_figure`
and returns the flat summary. Modules are imported only when used, so `dlf list` stays fast.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from dlf.errors import DlfError, shorten


@dataclass(frozen=True)
class Experiment:
    """An experiment and what else can be done with a finished run of it (its capabilities).

    samples: "images" or "text" if `dlf sample` draws from it (its module defines
        `sample(run_dir, cfg, opts: dlf.sampling.SampleOptions) -> str`); None if it draws nothing.
    inspects: `dlf inspect RUN --unit N` colours text by a hidden unit (a char-rnn's `hidden_states`).
    plays: `dlf play RUN` runs the saved agent again (dlf.rl.play).
    """

    name: str
    concept: str
    module: str
    samples: Literal["images", "text"] | None = None
    inspects: bool = False
    plays: bool = False

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("neuron", "a neuron: weighted sum, bias, activation; trained to separate two classes",
               "dlf.experiments.neuron"),
    Experiment("activations", "sigmoid, tanh and ReLU with their derivatives", "dlf.experiments.activations"),
    Experiment("linreg", "linear regression as line fitting: closed form against gradient descent",
               "dlf.experiments.linreg"),
    Experiment("gradient-descent", "full-batch, stochastic and mini-batch gradient descent side by side",
               "dlf.experiments.gradient_descent"),
    Experiment("backprop", "backpropagation by hand: numpy backward rules agree with PyTorch autograd step by step",
               "dlf.experiments.backprop"),
    Experiment("universality", "Hornik: a 2-layer network fits any continuous function as it widens",
               "dlf.experiments.universality"),
    Experiment("mnist-mlp", "supervised learning: the 2-layer network of the universality theorem on MNIST",
               "dlf.experiments.mnist_mlp"),
    Experiment("mnist-cnn", "CNNs for vision: translation invariance on MNIST", "dlf.experiments.mnist_cnn"),
    Experiment("mnist-rnn", "RNNs for sequences: an image read row by row by a GRU", "dlf.experiments.mnist_rnn"),
    Experiment("char-rnn", "unsupervised: predict the next character (Karpathy's char-RNN) with an LSTM, GRU or RNN",
               "dlf.experiments.char_rnn", samples="text", inspects=True),
    Experiment("sentiment-unit", "unsupervised: a char-RNN trained on reviews grows a sentiment unit (Radford et al.)",
               "dlf.experiments.sentiment_unit", samples="text", inspects=True),
    Experiment("word2vec", "unsupervised: predict nearby words; skip-gram and CBOW word vectors (Mikolov et al.)",
               "dlf.experiments.word2vec"),
    Experiment("pixelcnn", "unsupervised: predict the next pixel with masked convolutions (van den Oord et al.)",
               "dlf.experiments.pixelcnn", samples="images"),
    Experiment("vae", "unsupervised: a variational autoencoder encodes digits to a latent vector and decodes them back",
               "dlf.experiments.vae", samples="images"),
    Experiment("gan", "unsupervised: a generator learns to fool a discriminator (Goodfellow et al.)",
               "dlf.experiments.gan", samples="images"),
    Experiment("cartpole", "reinforcement learning: REINFORCE and PPO learn to balance a pole (Gymnasium)",
               "dlf.experiments.cartpole", plays=True),
)

BY_NAME = {e.name: e for e in EXPERIMENTS}


def get(name: str) -> Experiment:
    """Look an experiment up by name; an unknown name is a one-line error with the closest match."""
    if name in BY_NAME:
        return BY_NAME[name]
    close = difflib.get_close_matches(name, BY_NAME, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise DlfError(f"unknown experiment '{shorten(name, 60)}'; {hint}run 'dlf list' to see all {len(BY_NAME)}")
