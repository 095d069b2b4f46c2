"""Neural policies evaluated with numpy: what samplers and workers run (no torch import).

The forward pass mirrors :class:`~policysearch.policies.torch_policy.TorchPolicy` exactly (a test
checks it), with parameters named as in the torch ``state_dict``. Parameters may be stacked along
a leading candidate axis, so that one actor plays a whole population (ES) in one batch.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np

from .bodies import BODIES, VBN_EPSILON
from .spec import PolicySpec, center_half

#: Bounds of the Gaussian policy's log standard deviation.
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
#: Normalised observations are clipped to this magnitude.
OBS_CLIP = 10.0


def _rows_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w.T``, one row at a time (one BLAS call of the same shape per row).

    A row's result then does not depend on the other rows of the batch. One call for the batch
    does not promise that: BLAS picks its kernel by the batch size and splits the rows into tiles
    that round differently, so a row's last bit follows its position and neighbours (measured on
    AVX-512: 65-100 of 100 batches differ from their rows alone). Row by row costs 1.5-3.5x a
    single call on 16-256 rows of a 64x64 layer (4-43 us), still small beside an env step.
    """
    return (x[:, None, :] @ w.T)[:, 0, :]


#: Weights of one candidate's layer from which :func:`_candidate_matmul` reads them in place.
IN_PLACE_WEIGHTS = 65_536


def _candidate_matmul(x: np.ndarray, w: np.ndarray, b: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
    """``x[r] @ w[c].T + b[c]`` for every row ``r``, with ``c = cand[r]`` (candidate 0 if None).

    A small layer gathers each row's weights ``w[cand]`` and multiplies in one call. A layer of
    at least :data:`IN_PLACE_WEIGHTS` weights (a cnn's dense layer) is multiplied a row at a time
    with its candidate's weights read in place: the gather would copy 512 KB a row on MinAtar's
    dense layer (measured: 25 rows of 1024 x 128, 2.2 ms gathered, 0.87 ms in place; 100 rows
    of 17 x 6, 20 us gathered, 0.65 ms in place). The choice follows the layer's shape only,
    never the batch, so a row's outputs do not depend on the rows beside it. Each run of
    adjacent rows of one candidate (the reference batch's rows; a candidate's sessions while they
    share a step) is one call on slices, in which its weights stay in the cache from row to row.
    Grouping the rows by candidate with a sort first, and indexing them, cost more than it saved:
    16 rows of MinAtar's dense layer, each its own candidate, took 21.3 us a row grouped so
    against 11.9 row by row.
    """
    if cand is None:
        return _rows_matmul(x, w[0]) + b[0]
    if w[0].size < IN_PLACE_WEIGHTS:
        return np.einsum("bi,boi->bo", x, w[cand]) + b[cand]
    out = np.empty((len(x), w.shape[1]), dtype=np.result_type(x, w))
    bounds = [0, *(np.flatnonzero(cand[1:] != cand[:-1]) + 1).tolist(), len(x)]
    for lo, hi in itertools.pairwise(bounds):
        c = int(cand[lo])
        out[lo:hi] = _rows_matmul(x[lo:hi], w[c]) + b[c]
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class NumpyActor:
    """Plays a neural policy on batches of observations.

    Args:
        spec: the policy's shape.
        params: arrays named as in the torch ``state_dict``, each with a leading candidate axis;
            read-only once the actor is made (what bodies derive from them is kept, ``derived``).
        obs_mean: observation normaliser mean (None: no normalisation).
        obs_std: observation normaliser standard deviation.
        group: sessions per candidate; session ``i`` plays candidate ``i // group``.
        deterministic: act with the argmax or the Gaussian mean instead of sampling.
        reference: the reference batch of virtual batch normalisation, observations as the env
            gives them (None: none). Each candidate's layers are normalised by their statistics
            over these frames (:meth:`normalize`).
    """

    def __init__(
        self,
        spec: PolicySpec,
        params: dict[str, np.ndarray],
        obs_mean: np.ndarray | None = None,
        obs_std: np.ndarray | None = None,
        group: int = 1,
        deterministic: bool = False,
        reference: np.ndarray | None = None,
    ) -> None:
        self.spec = spec
        self.reference = reference
        #: Per layer, each candidate's mean and standard deviation over the reference batch.
        self._reference_stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: While the reference batch passes: each layer's statistics, a candidate at a time.
        self._collected: dict[str, list[tuple[np.ndarray, np.ndarray]]] | None = None
        self.params = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
        #: Arrays a body derives from ``params`` once, named by it (a cnn's filters in its order).
        self.derived: dict[str, np.ndarray] = {}
        self.n_candidates = next(iter(self.params.values())).shape[0]
        self.obs_mean = None if obs_mean is None else np.asarray(obs_mean, dtype=np.float32)
        self.obs_std = None if obs_std is None else np.asarray(obs_std, dtype=np.float32)
        self.group = group
        self.deterministic = deterministic
        categorical = spec.action == "categorical"
        self.noise_dim = 0 if deterministic else (1 if categorical else spec.act_dim)
        self.noise_kind: Literal["uniform", "normal"] = "uniform" if categorical else "normal"
        if spec.action == "gaussian":
            low, high = np.array(spec.low, np.float32), np.array(spec.high, np.float32)
            self.low, self.high = low, high
            self.center, self.half = center_half(spec)
        self.hidden = np.zeros((0, spec.hidden[0] if spec.recurrent else 0), dtype=np.float32)

    # -- the network ---------------------------------------------------------------------------

    def preprocess(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the vector bodies take them: one-hot or flattened, then normalised.

        (The cnn body makes its own inputs, :meth:`~policysearch.policies.bodies.Body.numpy_inputs`.)
        """
        spec = self.spec
        if spec.obs_discrete:
            return np.eye(spec.obs_dim, dtype=np.float32)[np.asarray(obs, dtype=np.int64) - spec.obs_start]
        x = np.asarray(obs, dtype=np.float32).reshape(len(obs), spec.obs_dim)
        if self.obs_mean is not None and self.obs_std is not None:
            # the statistics are the raw observations' (as the env gives them): no scale first
            x = np.clip((x - self.obs_mean) / self.obs_std, -OBS_CLIP, OBS_CLIP)
        elif spec.obs_scale != 1.0:
            x = x * np.float32(spec.obs_scale)
        return x

    @property
    def collecting(self) -> bool:
        """True while the reference batch passes (each layer's statistics are over all its rows)."""
        return self._collected is not None

    def linear(self, name: str, x: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
        """The layer ``name`` (``name.weight``, ``name.bias``) on ``x``, per candidate if ``cand``."""
        return _candidate_matmul(x, self.params[f"{name}.weight"], self.params[f"{name}.bias"], cand)

    def normalize(self, name: str, z: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
        """Virtual batch normalisation of the layer ``name``'s outputs ``z``, by unit or channel.

        ``z`` is ``(B, units)`` or ``(B, H, W, channels)``, a layer's fresh outputs: normalised
        in place; unchanged without a reference batch.
        Each candidate's statistics are those of its own outputs over the reference batch
        (Salimans et al., 2017): a row's result depends on its candidate and the reference
        only, never on the rows beside it.
        """
        if self.reference is None:
            return z
        if self._collected is not None:  # the rows are the reference batch of one candidate
            axes = tuple(range(z.ndim - 1))
            stats = (z.mean(axis=axes), np.sqrt(z.var(axis=axes) + VBN_EPSILON))
            self._collected.setdefault(name, []).append(stats)
            mean, std, rows = stats[0][None], stats[1][None], np.zeros(len(z), np.int64)
        else:
            mean, std = self._reference_stats[name]
            rows = np.zeros(len(z), np.int64) if cand is None else cand
        shape = (len(z),) + (1,) * (z.ndim - 2) + (-1,)
        z -= mean[rows].reshape(shape)
        z /= std[rows].reshape(shape)
        return z

    def _pass_reference(self) -> None:
        """Gather every candidate's statistics over the reference batch (once, before acting).

        One candidate at a time, so that the pass holds one reference batch's activations.
        """
        if self.reference is None or self._reference_stats:
            return
        body = BODIES[self.spec.kind]
        x = body.numpy_inputs(self, self.reference)
        index = np.arange(len(x))
        collected = self._collected = {}
        try:
            for c in range(self.n_candidates):
                cand = None if self.n_candidates == 1 else np.full(len(x), c)
                body.numpy_forward(self, x, index, cand)
        finally:
            self._collected = None
        for name, stats in collected.items():
            self._reference_stats[name] = (
                np.stack([m for m, _ in stats]).astype(np.float32),
                np.stack([s for _, s in stats]).astype(np.float32),
            )

    def activation(self, x: np.ndarray) -> np.ndarray:
        """The spec's activation."""
        return np.tanh(x) if self.spec.activation == "tanh" else np.maximum(x, 0)

    def _gru(self, x: np.ndarray, h: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
        p = self.params
        w_ih, w_hh = p["gru.weight_ih_l0"], p["gru.weight_hh_l0"]
        b_ih, b_hh = p["gru.bias_ih_l0"], p["gru.bias_hh_l0"]
        gi = _candidate_matmul(x, w_ih, b_ih, cand)
        gh = _candidate_matmul(h, w_hh, b_hh, cand)
        size = h.shape[1]
        r = _sigmoid(gi[:, :size] + gh[:, :size])
        z = _sigmoid(gi[:, size : 2 * size] + gh[:, size : 2 * size])
        n = np.tanh(gi[:, 2 * size :] + r * gh[:, 2 * size :])
        return (1 - z) * n + z * h

    def head(self, obs: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The last layer's outputs (logits, or Gaussian mean pre-activation and log std).

        A row's outputs do not depend on the other rows of the batch (see :func:`_rows_matmul`),
        so a session's actions are the same whichever sessions share its batch, and so whatever
        the number of workers.
        """
        self._pass_reference()
        cand = None if self.n_candidates == 1 else np.asarray(index) // self.group
        body = BODIES[self.spec.kind]
        x = body.numpy_forward(self, body.numpy_inputs(self, obs), np.asarray(index), cand)
        return self.linear("head", x, cand)

    def gru_step(self, x: np.ndarray, index: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
        """One GRU step of sessions ``index``: their new hidden states, kept for their next step."""
        self._grow(int(index.max()) + 1)
        h = self.hidden[index] = self._gru(x, self.hidden[index], cand)
        return h

    def _grow(self, size: int) -> None:
        if size > len(self.hidden):
            extra = np.zeros((max(size, 2 * len(self.hidden)) - len(self.hidden), self.hidden.shape[1]))
            self.hidden = np.concatenate([self.hidden, extra.astype(np.float32)])

    # -- the actor protocol --------------------------------------------------------------------

    def start(self, index: np.ndarray) -> None:
        """Sessions ``index`` begin: reset their hidden state."""
        if self.spec.recurrent:
            idx = np.asarray(index)
            self._grow(int(idx.max()) + 1)
            self.hidden[idx] = 0.0

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Actions for a batch of observations."""
        out = self.head(obs, index)
        cand = np.asarray(index) // self.group if self.n_candidates > 1 else np.zeros(len(out), np.int64)
        spec = self.spec
        if spec.action == "categorical":
            if self.deterministic or noise is None:
                return out.argmax(axis=1) + spec.act_start
            z = out - out.max(axis=1, keepdims=True)
            cdf = np.cumsum(np.exp(z), axis=1)
            a = (noise[:, :1] * cdf[:, -1:] >= cdf).sum(axis=1)
            return np.minimum(a, spec.act_dim - 1) + spec.act_start
        if spec.squash == "clip":
            mean = np.clip(out[:, : spec.act_dim], self.low, self.high)
        else:
            mean = self.center + self.half * np.tanh(out[:, : spec.act_dim])
        if self.deterministic or noise is None:
            return mean
        log_std = self.log_std(out, cand)
        return np.clip(mean + np.exp(log_std) * noise, self.low, self.high).astype(np.float32)

    def log_std(self, out: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """The Gaussian policy's log standard deviation for these head outputs and candidates."""
        spec = self.spec
        raw = out[:, spec.act_dim :] if spec.std_head == "network" else self.params["log_std"][cand]
        return np.clip(raw, LOG_STD_MIN, LOG_STD_MAX)
