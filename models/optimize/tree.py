"""Scenario tree over Monte Carlo paths.

Stage ``k`` starts at decision year ``d_k`` and governs the years ``[d_k, d_{k+1})`` (the last
stage runs to the horizon). Every path belongs to exactly one node per stage; the paths that
share a node share its decisions (non-anticipativity by construction).

Grouping rule (what is observable at a decision): at stage ``k ≥ 1`` the paths of each
stage-``k−1`` node are ranked by an observable of the year before the decision (default: the
old-age dependency ratio ``65+ / 20–64``) and split into ``branching[k−1]`` groups of as equal
size as possible (ties broken by path index). With no branching the tree is two-stage: one
root decision for every year, recourse per path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
               branching: list[int]) -> ScenarioTree:
    """Group paths into nodes by the documented ranking rule.

    Parameters
    ----------
    observable : [path, year] the indicator ranked at each decision (year before ``d_k``).
    years : the calendar years of ``observable``'s second axis.
    stage_years : decision years ``d_0 < d_1 < ...`` (``len(branching) + 1`` of them).
    branching : number of children of every node at stages 1, 2, ...
    """
    stage_years = np.asarray(stage_years, dtype=int)
    observable = np.atleast_2d(np.asarray(observable, dtype=float))
    n_paths = observable.shape[0]
    if len(stage_years) != len(branching) + 1:
        raise ValueError(f"{len(stage_years)} stage years need {len(stage_years) - 1} branching "
                         f"factors, got {len(branching)}")
    if np.any(np.diff(stage_years) <= 0):
        raise ValueError(f"stage years must increase, got {stage_years.tolist()}")
    leaves_needed = int(np.prod(branching)) if branching else 1
    if leaves_needed > n_paths:
        raise ValueError(f"the tree has {leaves_needed} leaves but only {n_paths} paths")
    year_index = {int(y): i for i, y in enumerate(years)}
    node_of = np.zeros((n_paths, len(stage_years)), dtype=int)
    parent, stage_of_node = [-1], [0]
    for k in range(1, len(stage_years)):
        seen = int(stage_years[k]) - 1
        if seen not in year_index:
            raise ValueError(f"the observable has no year {seen} (the year before stage {k})")
        for node in np.unique(node_of[:, k - 1]):
            members = np.flatnonzero(node_of[:, k - 1] == node)
            order = members[np.lexsort((members, observable[members, year_index[seen]]))]
            for group in np.array_split(order, branching[k - 1]):
                new = len(parent)
                parent.append(int(node))
                stage_of_node.append(k)
                node_of[group, k] = new
    return ScenarioTree(stage_years=stage_years, node_of=node_of, parent=np.array(parent),
                        stage_of_node=np.array(stage_of_node),
                        probability=np.full(n_paths, 1.0 / n_paths))
