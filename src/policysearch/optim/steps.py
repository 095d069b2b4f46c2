"""First-order steps on torch tensors (Adam, SGD with momentum), without ``torch.optim``.

Constructing a ``torch.optim`` optimizer imports ``torch._dynamo`` on first use, which costs more
than a second per process: longer than a whole CartPole run takes to solve. These few lines do
the same updates with the same tensor operations, so that the numbers are those of
``torch.optim`` (:class:`TorchAdam` and :class:`SGD` bit for bit: a test compares them), and
checkpoints written with ``torch.optim``'s state resume exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class Adam:
    """Adam (Kingma and Ba, 2015) with default options, as the crossentropy method's fit uses it.

    The first moment is updated as ``m * b1 + g * (1 - b1)`` (``torch.optim.Adam`` uses a
    ``lerp``, which rounds differently in the last bit: :class:`TorchAdam`). The fit starts a
    fresh optimiser every iteration, so this form is what earlier releases' CEM runs computed.

    Args:
        params: the parameters to update (their ``.grad`` is read).
        lr: learning rate.
        betas: decay rates of the first and second moment estimates.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient.
    """

    def __init__(
        self,
        params: list[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        """Forget the gradients."""
        for p in self.params:
            p.grad = None

    def _first_moment(self, m: torch.Tensor, grad: torch.Tensor) -> None:
        b1 = self.betas[0]
        m.mul_(b1).add_(grad, alpha=1 - b1)

    def _bias2_sqrt(self, bias2: float) -> float:
        return math.sqrt(bias2)

    @torch.no_grad()
    def step(self) -> None:
        """One update from the current gradients."""
        self.t += 1
        b1, b2 = self.betas
        bias1, bias2 = 1 - b1**self.t, 1 - b2**self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            grad = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
            self._first_moment(m, grad)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (v.sqrt() / self._bias2_sqrt(bias2)).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / bias1)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The state of the first parameter, under ``torch.optim.Adam``'s names."""
        if self.t == 0:
            return {}
        return {
            "step": np.array(float(self.t), dtype=np.float32),
            "exp_avg": self.m[0].detach().numpy().copy(),
            "exp_avg_sq": self.v[0].detach().numpy().copy(),
        }

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_arrays` (also the state that ``torch.optim.Adam`` saved)."""
        if not arrays:
            return
        self.t = int(np.asarray(arrays["step"]))
        dtype = self.params[0].dtype
        self.m[0] = torch.as_tensor(np.asarray(arrays["exp_avg"])).to(dtype).clone()
        self.v[0] = torch.as_tensor(np.asarray(arrays["exp_avg_sq"])).to(dtype).clone()


class TorchAdam(Adam):
    """``torch.optim.Adam``'s update bit for bit (single-tensor path, no amsgrad), as ES uses it."""

    def _first_moment(self, m: torch.Tensor, grad: torch.Tensor) -> None:
        m.lerp_(grad, 1 - self.betas[0])

    def _bias2_sqrt(self, bias2: float) -> float:
        return float(bias2**0.5)


class SGD:
    """``torch.optim.SGD`` with momentum (no dampening, no Nesterov) bit for bit.

    Args:
        params: the parameters to update (their ``.grad`` is read).
        lr: learning rate.
        momentum: momentum factor (0: plain SGD).
        weight_decay: L2 penalty added to the gradient.
    """

    def __init__(
        self, params: list[torch.Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers: list[torch.Tensor | None] = [None for _ in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update from the current gradients."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = grad.detach().clone()
                else:
                    buf.mul_(self.momentum).add_(grad)
                grad = buf
            p.add_(grad, alpha=-self.lr)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The momentum buffer of the first parameter, under ``torch.optim.SGD``'s name."""
        buf = self.buffers[0] if self.params else None
        return {} if buf is None else {"momentum_buffer": buf.detach().numpy().copy()}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_arrays` (also the state that ``torch.optim.SGD`` saved)."""
        if "momentum_buffer" in arrays:
            dtype = self.params[0].dtype
            self.buffers[0] = torch.as_tensor(np.asarray(arrays["momentum_buffer"])).to(dtype).clone()
