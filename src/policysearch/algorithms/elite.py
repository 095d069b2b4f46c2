"""Elite selection, shared by every crossentropy method."""

from __future__ import annotations

import math

import numpy as np


def elite_quota(n: int, percentile: float) -> int:
    """How many candidates the percentile asks for: ceil(n * (100 - percentile) / 100), at least 1."""
    return max(1, math.ceil(n * (100.0 - percentile) / 100.0 - 1e-9))


def select_elite(
    scores: np.ndarray,
    percentile: float,
    rng: np.random.Generator | None = None,
    fill_with_worst: bool = True,
) -> tuple[np.ndarray, float]:
    """The candidates whose score is at or above the ``percentile`` of ``scores``.

    When ties at the threshold would make the elite larger than the percentile asks for (the
    course's MountainCar, where most sessions share the worst reward), every candidate strictly
    above the threshold is kept and the rest of the quota is filled by a random choice among the
    tied ones, so that selection still prefers the better sessions.

    Args:
        scores: ``(N,)`` total reward of each candidate.
        percentile: in [0, 100].
        rng: breaks ties (without it, the first tied candidates are taken).
        fill_with_worst: fill the quota with candidates tied at the threshold also when that is
            the lowest score. With False, a candidate tied at the lowest score is elite only when
            nobody scored higher: on Acrobot a rare session that reached the goal is the whole
            elite rather than one among many random failures.

    Returns:
        A boolean mask of the elite and the threshold.

    >>> mask, threshold = select_elite(np.array([3.0, 4.0, 5.0]), 30)
    >>> mask.tolist(), round(threshold, 2)
    ([False, True, True], 3.6)
    """
    scores = np.asarray(scores, dtype=np.float64)
    # --8<-- [start:select-elite]
    threshold = float(np.percentile(scores, percentile))
    mask = scores >= threshold
    quota = elite_quota(scores.size, percentile)
    if mask.sum() > quota:
        above = scores > threshold
        tied = np.flatnonzero(mask & ~above)
        room = max(0, quota - int(above.sum()))
        if not fill_with_worst and above.any() and threshold <= scores.min():
            room = 0
        if rng is not None:
            tied = rng.permutation(tied)
        mask = above.copy()
        mask[tied[:room]] = True
    # --8<-- [end:select-elite]
    return mask, threshold


def select_elite_by_group(
    scores: np.ndarray,
    groups: int,
    percentile: float,
    rng: np.random.Generator | None = None,
    fill_with_worst: bool = True,
    relative: bool = False,
) -> tuple[np.ndarray, float]:
    """The elite among groups of candidates, candidate ``c`` being in group ``c % groups``.

    Candidates that started from the same states are judged against each other only, so that a
    lucky start does not make the elite (common random numbers). By default :func:`select_elite`
    runs within each group, so every group gives the same share of the elite. With ``relative``
    a candidate's score is how far it beat its group's mean, and the elite is the top
    ``percentile`` of all candidates by that margin: the groups whose candidates' returns differ
    most, where the actions decided the outcome, give most of the elite, and groups where every
    candidate did about as well (starts the policy already masters) give little or none.

    Returns:
        The elite mask and the threshold, on the scale of the scores: the mean of the groups'
        thresholds (with ``relative``, of the groups' means plus the margin the elite needed).

    >>> mask, _ = select_elite_by_group(np.array([1.0, 10.0, 2.0, 20.0]), 2, 50)
    >>> mask.tolist()
    [False, False, True, True]
    >>> scores = np.array([0.0, 0.0, 1.0, 30.0, 2.0, 40.0])  # groups 0: [0, 1, 2], 1: [0, 30, 40]
    >>> mask, threshold = select_elite_by_group(scores, 2, 50, relative=True)
    >>> mask.tolist(), round(threshold, 2)  # margin 0.5 over the mean of the group means, 12.17
    ([False, False, False, True, True, True], 12.67)
    """
    scores = np.asarray(scores, dtype=np.float64)
    if relative:
        group_of = np.arange(scores.size) % groups
        baseline = np.bincount(group_of, scores) / np.bincount(group_of)
        mask, margin = select_elite(scores - baseline[group_of], percentile, rng, fill_with_worst)
        return mask, margin + float(baseline.mean())
    mask = np.zeros(scores.size, dtype=bool)
    thresholds = []
    for g in range(min(groups, scores.size)):
        members = np.arange(g, scores.size, groups)
        chosen, threshold = select_elite(scores[members], percentile, rng, fill_with_worst)
        mask[members[chosen]] = True
        thresholds.append(threshold)
    return mask, float(np.mean(thresholds))


class EliteMemory:
    """The elite of past iterations, which joins the current one in the threshold and the fit.

    The lecture's trick "reuse elites of the last 3-5 iterations". Each entry is one iteration's
    elite as named arrays (what the algorithm needs to refit on it), newest first.

    Args:
        capacity: past iterations kept (``elite_memory - 1``; 0 keeps none).
        layout: each field of an entry and its dimensions, which :meth:`load` checks: a number is
            that size, a name a size shared by the entry's fields that name it (``k``: the
            entry's elite members), ``k*3`` three times an earlier field's ``k``.
        bounds: fields of indices and the end they stay below (a number, or a dimension's name).
    """

    def __init__(
        self,
        capacity: int,
        layout: dict[str, tuple[int | str, ...]] | None = None,
        bounds: dict[str, int | str] | None = None,
    ) -> None:
        self.capacity = capacity
        self.layout = layout or {"scores": ("k",)}
        self.bounds = bounds or {}
        self.entries: list[dict[str, np.ndarray]] = []

    def push(self, entry: dict[str, np.ndarray]) -> None:
        """Remember this iteration's elite, forgetting the oldest beyond the capacity."""
        self.entries = [entry, *self.entries][: self.capacity]

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The entries as named arrays ``{prefix}{i}.{field}``.

        >>> memory = EliteMemory(2)
        >>> memory.push({"scores": np.array([1.0])})
        >>> sorted(memory.arrays("memory."))
        ['memory.0.scores']
        """
        return {f"{prefix}{i}.{k}": v for i, entry in enumerate(self.entries) for k, v in entry.items()}

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        """Restore :meth:`arrays` (the entries found under ``prefix``).

        Raises:
            ValueError: for more entries than the capacity, or one unlike the layout.
        """
        entries: dict[int, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if key.startswith(prefix):
                index, _, name = key[len(prefix) :].partition(".")
                entries.setdefault(int(index), {})[name] = np.asarray(value)
        if len(entries) > self.capacity or sorted(entries) != list(range(len(entries))):
            held = sorted(entries)
            raise ValueError(f"the elite memory holds entries {held}; this run keeps {self.capacity}")
        self.entries = [entries[i] for i in sorted(entries)]
        for entry in self.entries:
            self._check(entry)

    def _check(self, entry: dict[str, np.ndarray]) -> None:
        """Raise ValueError unless ``entry`` has the fields, dimensions and indices of the layout."""
        if set(entry) != set(self.layout):
            fields, own = sorted(entry), sorted(self.layout)
            raise ValueError(f"an elite memory entry has the fields {fields}, not {own}")
        sizes: dict[str, int] = {}
        for name, dims in self.layout.items():
            value = entry[name]
            fits = value.dtype.kind in "biuf" and value.ndim == len(dims)
            for dim, size in zip(dims, value.shape, strict=False):
                if isinstance(dim, int):
                    want = dim
                else:  # a name, or a multiple of an earlier field's named size (``k*3``)
                    named, _, factor = dim.partition("*")
                    want = sizes[named] * int(factor) if factor else sizes.setdefault(named, size)
                fits = fits and size == want
            if not fits:
                raise ValueError(f"the elite memory's {name} has shape {value.shape} and type {value.dtype}")
        for name, end in self.bounds.items():
            top = sizes[end] if isinstance(end, str) else end
            value = entry[name]
            if value.dtype.kind not in "iu" or (value.size and (value.min() < 0 or value.max() >= top)):
                raise ValueError(f"the elite memory's {name} are not indices below {top}")
