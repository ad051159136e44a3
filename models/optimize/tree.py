"""Scenario tree over Monte Carlo paths.

Stage ``k`` starts at decision year ``d_k`` and governs the years ``[d_k, d_{k+1})`` (the last
stage runs to the horizon). Every path belongs to exactly one node per stage; the paths that
share a node share its decisions (non-anticipativity by construction).

Grouping rules (what is observable at a decision), both using only what is observed in the
year before the decision ``d_k − 1``, so a path's node at stage ``k`` never depends on what
happens to any path after ``d_k − 1`` (non-anticipative by construction):

* ``"rank"``: at stage ``k ≥ 1`` the paths of each stage-``k−1`` node are ranked by one
  observable (default: the old-age dependency ratio ``65+ / 20–64``) and split into
  ``branching[k−1]`` groups of as equal size as possible (ties broken by path index).
* ``"kmeans"``: the paths of each node are clustered on *several* observables (the columns
  of ``observable[path, year, feature]``, each standardised by its spread across all paths in
  that year) by k-means (Lloyd's algorithm, ``scipy.cluster.vq.kmeans2``), started from the
  centres of the rank groups of each observable and from maximin points, keeping the best
  (least within-cluster sum of squares), so the construction is deterministic (no random
  start). The children are the clusters: a node's paths go to the nearest centre,
  i.e. the grouping is the optimal quantization of the node's conditional distribution of the
  observed state with ``branching[k−1]`` points (Pflug and Pichler, *Multistage Stochastic
  Optimization*, Springer 2014, ch. 4; Heitsch and Römisch, *Comput. Optim. Appl.* 24, 2003,
  on scenario reduction). A node with fewer paths than children gets one child per path; an
  empty cluster is dropped. Children are numbered by their centre's first observable, low to
  high, as in the rank rule.

With stages every few years to the horizon (``stage_years`` up to the last year) every
decision of a year is taken at the node of the last stage begun, i.e. on what has been
observed up to then, to the horizon. With no branching the tree is two-stage: one root
decision for every year, recourse per path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2


@dataclass(frozen=True)
class ScenarioTree:
    stage_years: np.ndarray  # [stage] first year of each stage
    node_of: np.ndarray  # [path, stage] node id
    parent: np.ndarray  # [node] parent node id, -1 for the root
    stage_of_node: np.ndarray  # [node]
    probability: np.ndarray  # [path], sums to one

    @property
    def n_paths(self) -> int:
        return self.node_of.shape[0]

    @property
    def n_nodes(self) -> int:
        return self.parent.size

    def stage_of_year(self, years: np.ndarray) -> np.ndarray:
        """Stage in force in each year (−1 before the first decision year)."""
        return np.searchsorted(self.stage_years, np.asarray(years), side="right") - 1

    def node_of_path_year(self, years: np.ndarray) -> np.ndarray:
        """Node whose decision governs each path and year, ``[path, year]`` (−1 before)."""
        stage = self.stage_of_year(years)
        out = np.full((self.n_paths, len(stage)), -1)
        valid = stage >= 0
        out[:, valid] = self.node_of[:, stage[valid]]
        return out

    def paths_of_node(self, node: int) -> np.ndarray:
        return np.flatnonzero(self.node_of[:, self.stage_of_node[node]] == node)

    def leaves(self) -> np.ndarray:
        return np.unique(self.node_of[:, -1])

    def ancestors(self, node: int) -> list[int]:
        """The node and its ancestors, root first."""
        chain = [node]
        while self.parent[chain[-1]] >= 0:
            chain.append(int(self.parent[chain[-1]]))
        return chain[::-1]


def build_tree(observable: np.ndarray, years: np.ndarray, stage_years: list[int] | np.ndarray,
               branching: list[int], grouping: str = "rank") -> ScenarioTree:
    """Group paths into nodes by the documented grouping rule (module docstring).

    Parameters
    ----------
    observable : ``[path, year]`` (or ``[path, year, feature]``) indicators observed at each
        decision (year before ``d_k``); ``"rank"`` uses the first feature only.
    years : the calendar years of ``observable``'s second axis.
    stage_years : decision years ``d_0 < d_1 < ...`` (``len(branching) + 1`` of them).
    branching : number of children of every node at stages 1, 2, ...
    grouping : ``"rank"`` or ``"kmeans"``.
    """
    stage_years = np.asarray(stage_years, dtype=int)
    observable = np.asarray(observable, dtype=float)
    observable = observable.reshape(observable.shape + (1,) * (3 - observable.ndim)) \
        if observable.ndim >= 2 else observable[None, :, None]
    n_paths = observable.shape[0]
    if grouping not in ("rank", "kmeans"):
        raise ValueError(f"grouping must be 'rank' or 'kmeans', got {grouping!r}")
    if len(stage_years) != len(branching) + 1:
        raise ValueError(f"{len(stage_years)} stage years need {len(stage_years) - 1} branching "
                         f"factors, got {len(branching)}")
    if np.any(np.diff(stage_years) <= 0):
        raise ValueError(f"stage years must increase, got {stage_years.tolist()}")
    leaves_needed = int(np.prod(branching)) if branching else 1
    if leaves_needed > n_paths and grouping == "rank":
        raise ValueError(f"the tree has {leaves_needed} leaves but only {n_paths} paths")
    year_index = {int(y): i for i, y in enumerate(years)}
    node_of = np.zeros((n_paths, len(stage_years)), dtype=int)
    parent, stage_of_node = [-1], [0]
    for k in range(1, len(stage_years)):
        seen = int(stage_years[k]) - 1
        if seen not in year_index:
            raise ValueError(f"the observable has no year {seen} (the year before stage {k})")
        state = observable[:, year_index[seen], :]
        for node in np.unique(node_of[:, k - 1]):
            members = np.flatnonzero(node_of[:, k - 1] == node)
            groups = (rank_groups(members, state[members, 0], branching[k - 1])
                      if grouping == "rank" else
                      kmeans_groups(members, standardised(state)[members], branching[k - 1]))
            for group in groups:
                new = len(parent)
                parent.append(int(node))
                stage_of_node.append(k)
                node_of[group, k] = new
    return ScenarioTree(stage_years=stage_years, node_of=node_of, parent=np.array(parent),
                        stage_of_node=np.array(stage_of_node),
                        probability=np.full(n_paths, 1.0 / n_paths))


def rank_groups(members: np.ndarray, value: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """``members`` ranked by ``value`` (ties by index), cut into ``n_groups`` groups of as
    equal size as possible, lowest values first."""
    order = members[np.lexsort((members, value))]
    return [g for g in np.array_split(order, min(n_groups, members.size)) if g.size]


def standardised(state: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """``(x − mean) / sd`` of each feature across paths (axis 0; sd 0 → 1), ``[path, ...]``;
    the mean and sd are ``reference``'s paths' when given (other paths put on the scale the
    reference paths were grouped or fitted on), else ``state``'s own."""
    ref = state if reference is None else reference
    sd = ref.std(axis=0)
    return (state - ref.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def kmeans_groups(members: np.ndarray, features: np.ndarray, n_groups: int
                  ) -> list[np.ndarray]:
    """k-means clusters of ``members`` on ``features[member, feature]``: Lloyd's algorithm
    (``scipy.cluster.vq.kmeans2``) from deterministic starts — the centres of the rank groups
    of each feature, and the maximin points (the member farthest from the mean, then each
    next farthest from those chosen) — keeping the clustering of least within-cluster sum of
    squares; clusters ordered by their centre's first feature, empty ones dropped."""
    n_groups = min(n_groups, members.size)
    if n_groups < 2:
        return [members]
    starts = [np.stack([features[g].mean(axis=0) for g in rank_groups(
        np.arange(members.size), features[:, j], n_groups)]) for j in range(features.shape[1])]
    chosen = [int(np.argmax(((features - features.mean(axis=0)) ** 2).sum(axis=1)))]
    while len(chosen) < n_groups:
        gap = ((features[:, None, :] - features[None, chosen, :]) ** 2).sum(axis=2).min(axis=1)
        chosen.append(int(np.argmax(gap)))
    starts.append(features[chosen])
    best, best_sse = None, np.inf
    for start in starts:
        centres, label = kmeans2(features, start, iter=50, minit="matrix", missing="warn")
        sse = float(((features - centres[label]) ** 2).sum())
        if sse < best_sse - 1e-12:
            best, best_sse = label, sse
    groups = [np.flatnonzero(best == j) for j in range(n_groups)]
    order = np.argsort([features[g, 0].mean() if g.size else np.inf for g in groups],
                       kind="stable")
    return [members[groups[j]] for j in order if groups[j].size]
