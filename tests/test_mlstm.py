"""The multiplicative LSTM: its equations against a float64 NumPy reference, its state at each sequence's true end,
its gradients against finite differences, and that a char-RNN built on it learns a sequence that needs memory."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dlf.models.charrnn import CharRNN
from dlf.models.mlstm import MLSTM


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def reference(rnn: MLSTM, x: np.ndarray, h0: np.ndarray, c0: np.ndarray):
    """Krause et al.'s equations written out step by step in float64 NumPy, one named matrix each."""
    outs, hs, cs = x, [], []
    for k, layer in enumerate(rnn.layers):
        H = layer.hidden
        w = layer.weight_x.detach().double().numpy()
        W_mx, W_x = w[:H], w[H:]  # (H, I), (4H, I)
        W_mh, W_m = layer.weight_mh.detach().double().numpy(), layer.weight_m.detach().double().numpy()
        b = layer.bias.detach().double().numpy()
        h, c, seq = h0[k], c0[k], []
        for t in range(outs.shape[1]):
            xt = outs[:, t]  # (B, I)
            m = (xt @ W_mx.T) * (h @ W_mh.T)  # (B, H)
            z = xt @ W_x.T + m @ W_m.T + b  # (B, 4H)
            i, f, o, u = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), sigmoid(z[:, 2 * H:3 * H]), np.tanh(z[:, 3 * H:])
            c = f * c + i * u
            h = o * np.tanh(c)
            seq.append(h)
        outs = np.stack(seq, 1)
        hs.append(h)
        cs.append(c)
    return outs, np.stack(hs), np.stack(cs)


def test_mlstm_matches_the_equations_in_float64():
    torch.manual_seed(0)
    rnn = MLSTM(4, 5, num_layers=2).double()
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    h0, c0 = torch.randn(2, 3, 5, dtype=torch.float64), torch.randn(2, 3, 5, dtype=torch.float64)
    out, (h, c) = rnn(x, (h0, c0))
    ref_out, ref_h, ref_c = reference(rnn, x.numpy(), h0.numpy(), c0.numpy())
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), ref_c, atol=1e-12)
    cells = rnn.cell_states(x)  # (B, T, H) from a zero state
    zeros = np.zeros((2, 3, 5))
    np.testing.assert_allclose(cells[:, -1].detach().numpy(), reference(rnn, x.numpy(), zeros, zeros)[2][-1],
                               atol=1e-12)
    inputs = (x[:2, :3].clone().requires_grad_(), h0[:, :2].clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda inp, s: rnn(inp, (s, c0[:, :2]))[0].sum(), inputs)


def test_lengths_stop_each_state_at_its_own_end():
    torch.manual_seed(1)
    rnn = MLSTM(4, 6, num_layers=2).eval()
    lengths = torch.tensor([5, 2, 7])
    x = torch.randn(3, 7, 4)
    _, (h, c) = rnn(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        _, (hb, cb) = rnn(x[b:b + 1, :n])  # the sequence alone, no padding
        torch.testing.assert_close(h[:, b], hb[:, 0])
        torch.testing.assert_close(c[:, b], cb[:, 0])


def test_char_rnn_on_mlstm_learns_a_sequence_that_needs_memory():
    """'aaab' repeated: after an 'a' the next character is 'a' or 'b' depending on how many a's came before, so a
    model without memory cannot go below ~0.48 nats (the bigram entropy); the mLSTM must count to three."""
    torch.manual_seed(0)
    model = CharRNN(2, hidden=16, layers=1, cell="mlstm", embed=8)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    period = torch.tensor([0, 0, 0, 1])
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        phase = torch.randint(0, 4, (16, 1), generator=g)  # (B, 1): each stream starts somewhere in the period
        x = period[(phase + torch.arange(17)) % 4]  # (B, 17)
        logits, _ = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        x = period[(torch.arange(4)[:, None] + torch.arange(41)) % 4]
        logits, _ = model(x[:, :-1])
        late = F.cross_entropy(logits[:, 8:].flatten(0, 1), x[:, 9:].flatten())  # once the phase is known
    assert late < 0.1, f"{late:.3f} nats per character: the mLSTM did not learn to count"
    cells = model.hidden_states(x[:, :12])
    assert cells.shape == (4, 12, 16)
