"""Neural policies as torch modules: what the crossentropy method fits by maximum likelihood."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .bodies import BODIES
from .numpy_policy import LOG_STD_MAX, LOG_STD_MIN, OBS_CLIP
from .spec import PolicySpec, center_half


class TorchPolicy(nn.Module):
    """A body (:data:`~policysearch.policies.bodies.BODIES`) and a categorical or Gaussian head.

    Parameter names are the contract with :class:`~policysearch.policies.numpy_policy.NumpyActor`.

    Args:
        spec: the policy's shape.
        init_log_std: initial log standard deviation of a Gaussian policy.
    """

    def __init__(self, spec: PolicySpec, init_log_std: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.body = BODIES[spec.kind]
        features = self.body.build(self, spec)
        self.head = nn.Linear(features, spec.head_dim)
        with torch.no_grad():  # small last layer: start close to uniform / the action centre
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
            if spec.action == "gaussian" and spec.std_head == "network":
                self.head.bias[spec.act_dim :] = init_log_std
        #: Virtual batch normalisation's reference batch, as network inputs (None: none).
        self.reference: torch.Tensor | None = None
        if spec.action == "gaussian" and spec.std_head == "parameter":
            self.log_std = nn.Parameter(torch.full((spec.act_dim,), float(init_log_std)))
        if spec.action == "gaussian":
            low = torch.tensor(spec.low, dtype=torch.float32)
            high = torch.tensor(spec.high, dtype=torch.float32)
            center, half = center_half(spec)
            self.action_center, self.action_half = torch.from_numpy(center), torch.from_numpy(half)
            self.action_low, self.action_high = low, high

    def set_reference(self, frames: np.ndarray | None) -> None:
        """Normalise the body's layers by their statistics over ``frames`` (None: not at all).

        ``frames`` are observations as the env gives them, as the numpy actor's ``reference``.
        """
        self.reference = None if frames is None else self.preprocess(frames, None, None)

    def preprocess(self, obs: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> torch.Tensor:
        """Observations (any leading shape) as network inputs, as the numpy actor computes them."""
        spec = self.spec
        if spec.obs_discrete:
            idx = torch.as_tensor(np.asarray(obs, dtype=np.int64) - spec.obs_start)
            return nn.functional.one_hot(idx, spec.obs_dim).float()
        lead = np.asarray(obs).shape[: np.asarray(obs).ndim - len(spec.obs_shape)]
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(*lead, spec.obs_dim))
        if mean is not None and std is not None:
            # the statistics are the raw observations' (as the env gives them): no scale first
            m, s = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
            x = torch.clamp((x - m) / s, -OBS_CLIP, OBS_CLIP)
        elif spec.obs_scale != 1.0:
            x = x * float(np.float32(spec.obs_scale))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Head outputs; ``x`` is ``(B, obs_dim)``, or ``(T, N, obs_dim)`` for a GRU (h0 = 0)."""
        return self.head(self.body.torch_forward(self, x))

    def log_prob_entropy(self, out: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-likelihood of ``actions`` and the policy's entropy, per row of ``out``."""
        spec = self.spec
        if spec.action == "categorical":
            logp = torch.log_softmax(out, dim=-1)
            chosen = logp.gather(-1, (actions.long() - spec.act_start).unsqueeze(-1)).squeeze(-1)
            entropy = -(logp.exp() * logp).sum(-1)
            return chosen, entropy
        if spec.squash == "clip":
            mean = torch.clamp(out[..., : spec.act_dim], self.action_low, self.action_high)
        else:
            mean = self.action_center + self.action_half * torch.tanh(out[..., : spec.act_dim])
        if spec.std_head == "network":
            log_std = out[..., spec.act_dim :]
        else:
            log_std = self.log_std.expand_as(mean)
        log_std = torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)
        z = (actions.float() - mean) / log_std.exp()
        logp = (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)
        return logp, entropy

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Parameters as numpy arrays with a leading candidate axis of 1, for the numpy actor."""
        return {k: v.detach().numpy().copy()[None] for k, v in self.state_dict().items()}
