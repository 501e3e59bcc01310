"""GA-NAS networks in plain torch: a 1-GNN encoder, the generator and the pairwise discriminator.

Changiz Rezaei et al., "Generative Adversarial Neural Architecture Search", IJCAI 2021,
Sec. 3: cells are operator-on-node DAGs encoded by a k-GNN (Morris et al., AAAI 2019;
we use its 1-GNN layers, h'_v = ReLU(W1 h_v + W2 sum_{u in N(v)} h_u), on a dense
adjacency). The generator is autoregressive: at step s it encodes the partial cell
(decided rows carry their op, later rows a PENDING flag) and an MLP head picks the op
of row s. The discriminator is Siamese: D(t, x) = sigma(MLP([E(t) || E(x)])) with a
shared encoder E. Sizes (3 layers x 64, sum pooling) are ours: the paper's appendix,
which holds them, was not available.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# node-feature columns: IN, OUT, PENDING, CURRENT, then one per op
_IN, _OUT, _PENDING, _CURRENT, _OP0 = 0, 1, 2, 3, 4


def nb201_adjacency() -> np.ndarray:
    """NAS-Bench-201 cell as an op-on-node DAG: IN, 6 op-nodes (official edge order), OUT.

    Op-node (j<-i) receives from IN if i == 0, else from every op-node (i<-.);
    OUT receives from every op-node (3<-.). Symmetric (messages flow both ways).
    """
    edges = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    n = len(edges) + 2
    adj = np.zeros((n, n), dtype=np.float32)
    for r, (to, frm) in enumerate(edges):
        if frm == 0:
            adj[0, 1 + r] = 1.0
        for q, (to_q, _) in enumerate(edges):
            if to_q == frm:
                adj[1 + q, 1 + r] = 1.0
        if to == 3:
            adj[1 + r, n - 1] = 1.0
    return np.maximum(adj, adj.T)


def chain_adjacency(rows: int) -> np.ndarray:
    """IN -> row 0 -> ... -> row rows-1 -> OUT (e.g. ProxylessNAS' 21 layers)."""
    n = rows + 2
    adj = np.zeros((n, n), dtype=np.float32)
    idx = np.arange(n - 1)
    adj[idx, idx + 1] = 1.0
    return np.maximum(adj, adj.T)


def node_features(ops: torch.Tensor, steps: torch.Tensor, n_ops: int) -> torch.Tensor:
    """One-hot node features ``(B, rows + 2, n_ops + 4)`` of partial cells.

    Rows ``< steps`` carry their op in ``ops``; the others are PENDING, and the row
    being decided (``== steps``) is also flagged CURRENT. ``steps == rows`` encodes
    complete cells.
    """
    batch, rows = ops.shape
    x = torch.zeros(batch, rows + 2, n_ops + 4)
    x[:, 0, _IN] = 1.0
    x[:, -1, _OUT] = 1.0
    pos = torch.arange(rows)[None, :]
    decided = (pos < steps[:, None]).float()
    body = torch.zeros(batch, rows, n_ops + 4)
    body[..., _OP0:] = nn.functional.one_hot(ops.clamp(min=0), n_ops).float() * decided[..., None]
    body[..., _PENDING] = 1.0 - decided
    body[..., _CURRENT] = (pos == steps[:, None]).float()
    x[:, 1:-1] = body
    return x


class GNN(nn.Module):
    """Stacked dense 1-GNN layers; returns node states and the sum-pooled graph embedding."""

    def __init__(self, in_dim: int, hidden: int, n_layers: int):
        super().__init__()
        dims = [in_dim] + [hidden] * n_layers
        # W1 h + W2 (A h) as one matmul on [h || A h]: fewer, larger calls
        self.layers = nn.ModuleList(
            nn.Linear(2 * a, b) for a, b in zip(dims, dims[1:], strict=False)
        )

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for layer in self.layers:
            x = torch.relu(layer(torch.cat([x, adj @ x], dim=-1)))
        return x, x.sum(dim=1)


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


class Generator(nn.Module):
    """Autoregressive policy over rows: op logits and a state value per partial cell.

    The head sees the graph embedding, the CURRENT node's state and a one-hot of
    the row index. Topologies here are fixed (NB201, chains), so the paper's GRU
    edge decoder has nothing to choose and is left out; log-probabilities cover the
    op choices only.
    """

    def __init__(self, adj: np.ndarray, n_ops: int, hidden: int = 64, n_layers: int = 3):
        super().__init__()
        self.register_buffer("adj", torch.as_tensor(adj, dtype=torch.float32))
        self.n_rows = adj.shape[0] - 2
        self.n_ops = n_ops
        self.encoder = GNN(n_ops + 4, hidden, n_layers)
        head_in = 2 * hidden + self.n_rows
        self.op_head = _mlp(head_in, hidden, n_ops)
        self.value_head = _mlp(head_in, hidden, 1)

    def forward(self, ops: torch.Tensor, steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, n_ops)`` and values ``(B,)`` of deciding row ``steps`` of ``ops``."""
        nodes, graph = self.encoder(node_features(ops, steps, self.n_ops), self.adj)
        current = nodes[torch.arange(len(steps)), steps + 1]
        pos = nn.functional.one_hot(steps, self.n_rows).float()
        h = torch.cat([graph, current, pos], dim=1)
        return self.op_head(h), self.value_head(h).squeeze(-1)

    def all_steps(self, ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits ``(B, rows, n_ops)`` and values ``(B, rows)``: one batched call."""
        batch, rows = ops.shape
        steps = torch.arange(rows).repeat(batch)
        logits, values = self(ops.repeat_interleave(rows, dim=0), steps)
        return logits.view(batch, rows, -1), values.view(batch, rows)


class PairDiscriminator(nn.Module):
    """Siamese discriminator D(t, x) = sigma(MLP([E(t) || E(x)])), shared 1-GNN encoder E."""

    def __init__(self, adj: np.ndarray, n_ops: int, hidden: int = 64, n_layers: int = 3):
        super().__init__()
        self.register_buffer("adj", torch.as_tensor(adj, dtype=torch.float32))
        self.n_ops = n_ops
        self.encoder = GNN(n_ops + 4, hidden, n_layers)
        self.classifier = _mlp(2 * hidden, hidden, 1)

    def embed(self, ops: torch.Tensor) -> torch.Tensor:
        steps = torch.full((ops.shape[0],), ops.shape[1], dtype=torch.long)
        return self.encoder(node_features(ops, steps, self.n_ops), self.adj)[1]

    def pair_logits(self, emb_t: torch.Tensor, emb_x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.cat([emb_t, emb_x], dim=-1)).squeeze(-1)

    @torch.no_grad()
    def reward(self, truth: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """GA-NAS' final reward of each cell: mean over t in the truth set of D(t, x)."""
        et, ex = self.embed(truth), self.embed(cells)
        pairs = self.pair_logits(
            et[None].expand(len(ex), -1, -1), ex[:, None].expand(-1, len(et), -1)
        )
        return torch.sigmoid(pairs).mean(dim=1)
