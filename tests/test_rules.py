"""Unit tests for the IOA rules (docs/design.md §4): pure functions, no fixtures needed."""

from __future__ import annotations

import dataclasses

import pytest

from ioa import rules

# --- deficiency and mastery ---------------------------------------------------


def test_deficiency_is_relative_gap() -> None:
    assert rules.deficiency(0.8, 0.2) == pytest.approx(0.75)


def test_deficiency_zero_when_teacher_scores_zero() -> None:
    assert rules.deficiency(0.0, 0.4) == 0.0
    assert rules.is_deficient(0.0, 0.0) is False


def test_deficiency_negative_when_student_beats_teacher() -> None:
    assert rules.deficiency(0.5, 0.75) == pytest.approx(-0.5)


def test_is_deficient_uses_strict_threshold() -> None:
    assert rules.is_deficient(1.0, 0.6) is True  # Δ = 0.4
    assert rules.is_deficient(1.0, 0.8) is False  # Δ = 0.2
    assert rules.is_deficient(1.0, 0.5, tau_gap=0.5) is False  # Δ == τ: not deficient
    assert rules.is_deficient(1.0, 0.8, tau_gap=0.1) is True


def test_mastery_ratio() -> None:
    assert rules.mastery_ratio(0.8, 0.6) == pytest.approx(0.75)
    assert rules.mastery_ratio(0.0, 0.3) == 1.0  # P_T = 0: nothing to learn
    # 9 of 12 against the teacher's 10 of 12 is exactly 90%: it passes a 0.9 gate, whatever the division rounds to.
    assert rules.mastery_ratio(10 / 12, 9 / 12) >= 0.9 and rules.level_ratio(10 / 12, 9 / 12) >= 0.9
    state = rules.module_state(10 / 12, 9 / 12, tau_mastery=0.9, teacher_floor=0.5, forgot=False, stuck=False)
    assert state == "mastered"


# --- Eq. 3: dependency strengths ------------------------------------------------


def test_dependency_strengths_hand_computed() -> None:
    p_teacher = {"a": 1.0, "b": 1.0}
    history = [
        {"a": 0.95, "b": 0.8},  # a mastered (r = 0.95)
        {"a": 0.5, "b": 0.2},  # a clearly not (r = 0.5)
        {"a": 0.92, "b": 0.6},  # a mastered (r = 0.92)
    ]
    dep = rules.dependency_strengths(history, p_teacher)
    # A = mean(0.8, 0.6) = 0.7, B = 0.2, Dep = 0.5 / (0.7 + 1e-6)
    assert dep[("a", "b")] == pytest.approx(0.5 / (0.7 + 1e-6))
    assert dep[("a", "b")] == pytest.approx(0.714285, abs=1e-5)
    # b's ratio is never >= 0.9, so (b, a) has no "high" group and no estimate.
    assert ("b", "a") not in dep


def test_dependency_strengths_uses_ratio_not_raw_score() -> None:
    # With P_T(a) = 0.5, a raw P_S of 0.45 is a ratio of 0.9: mastered.
    history = [{"a": 0.45, "b": 0.9}, {"a": 0.1, "b": 0.3}]
    dep = rules.dependency_strengths(history, {"a": 0.5, "b": 1.0})
    assert dep[("a", "b")] == pytest.approx((0.9 - 0.3) / (0.9 + 1e-6))


def test_dependency_strengths_needs_two_rounds() -> None:
    assert rules.dependency_strengths([], {"a": 1.0}) == {}
    assert rules.dependency_strengths([{"a": 0.95, "b": 0.1}], {"a": 1.0, "b": 1.0}) == {}


def test_dependency_strengths_skips_middle_band_and_missing_modules() -> None:
    p_teacher = {"a": 1.0, "b": 1.0}
    # r_a = 0.8 lies between tau_low and tau_high: neither group.
    history = [{"a": 0.8, "b": 0.9}, {"a": 0.8, "b": 0.1}]
    # b swings from mastered (0.9) to not (0.1) while a stays put: Dep(b→a) = 0.
    assert rules.dependency_strengths(history, p_teacher) == {("b", "a"): 0.0}
    # "c" has no teacher score, so it never acts as a prerequisite.
    history = [{"a": 1.0, "c": 0.9}, {"a": 0.1, "c": 0.3}]
    dep = rules.dependency_strengths(history, p_teacher)
    assert set(dep) == {("a", "c")}


# --- cycles and edge refinement -------------------------------------------------


def test_break_cycles_drops_closing_edge_deterministically() -> None:
    modules = ["a", "b", "c"]
    edges = [("a", "b"), ("b", "c"), ("c", "a")]
    dag, removed = rules.break_cycles(modules, edges)
    assert dag == [("a", "b"), ("b", "c")]
    assert removed == [("c", "a")]
    # Same input, same answer; a different order changes which edge loses.
    assert rules.break_cycles(modules, edges) == (dag, removed)
    dag2, removed2 = rules.break_cycles(modules, [("c", "a"), ("a", "b"), ("b", "c")])
    assert removed2 == [("b", "c")]
    assert dag2 == [("c", "a"), ("a", "b")]


def test_break_cycles_removes_self_loops_and_unknown_modules() -> None:
    dag, removed = rules.break_cycles(["a", "b"], [("a", "a"), ("a", "z"), ("a", "b")])
    assert dag == [("a", "b")]
    assert removed == [("a", "a"), ("a", "z")]


def test_break_cycles_keeps_a_diamond() -> None:
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d")]
    dag, removed = rules.break_cycles(["a", "b", "c", "d"], edges)
    assert dag == edges
    assert removed == []


def test_refine_edges_adds_strong_empirical_edges_and_prior_wins_cycles() -> None:
    prior = [("a", "b")]
    dep = {("b", "c"): 0.5, ("b", "a"): 0.9, ("a", "c"): 0.1, ("c", "a"): 0.4}
    edges, removed = rules.refine_edges(prior, dep, ["a", "b", "c"])
    # (a, c) is too weak; (b, a) and then (c, a) would each close a cycle.
    assert edges == [("a", "b"), ("b", "c")]
    assert removed == [("b", "a"), ("c", "a")]


def test_refine_edges_strongest_first() -> None:
    dep = {("x", "y"): 0.4, ("y", "x"): 0.8}
    edges, removed = rules.refine_edges([], dep, ["x", "y"], tau_dep=0.3)
    assert edges == [("y", "x")]
    assert removed == [("x", "y")]


# --- severity and targets -------------------------------------------------------


def test_severity_without_dependents_is_alpha_delta() -> None:
    sev = rules.severity({"a": 0.5}, {}, [], alpha=0.7)
    assert sev == {"a": pytest.approx(0.35)}


def test_severity_with_dependents_averages_dep() -> None:
    delta = {"a": 0.5, "b": 0.4, "c": 0.6}
    edges = [("a", "b"), ("a", "c")]
    dep = {("a", "b"): 0.6}  # (a, c) declared but not estimated: counts as 1.0
    sev = rules.severity(delta, dep, edges, alpha=0.7)
    assert sev["a"] == pytest.approx(0.7 * 0.5 + 0.3 * (0.6 + 1.0) / 2)
    assert sev["b"] == pytest.approx(0.7 * 0.4)
    assert sev["c"] == pytest.approx(0.7 * 0.6)


def test_select_targets_top_fraction_by_severity() -> None:
    sev = {f"m{i}": i / 10 for i in range(8)}
    targets = rules.select_targets(sev, set(sev), fraction=0.25)
    assert targets == ["m7", "m6"]  # ceil(0.25 * 8) = 2


def test_select_targets_at_least_one_and_ties_by_id() -> None:
    sev = {"b": 0.5, "a": 0.5, "c": 0.1, "d": 0.9}
    # ceil(0.25 * 3) = 1; "d" is not deficient, so it is never chosen.
    assert rules.select_targets(sev, {"a", "b", "c"}) == ["a"]
    assert rules.select_targets(sev, {"c"}, fraction=0.01) == ["c"]


def test_select_targets_empty_when_nothing_deficient() -> None:
    assert rules.select_targets({"a": 0.9}, set()) == []


def test_with_prerequisites_pulls_in_unmastered_ancestors() -> None:
    edges = [("a", "b"), ("b", "c"), ("x", "c"), ("c", "d")]
    # b is mastered but a (further up) is not; x is mastered; d is downstream.
    result = rules.with_prerequisites(["c"], edges, unmastered={"a", "d"})
    assert result == ["a", "c"]
    assert rules.with_prerequisites([], edges, {"a"}) == []


# --- stages and ZPD ---------------------------------------------------------------


def test_layer_stages_topological_layers() -> None:
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("z", "a")]
    # "z" is outside the set: its edge is ignored, so "a" starts stage 0.
    assert rules.layer_stages(["d", "c", "b", "a"], edges) == [["a"], ["b", "c"], ["d"]]
    assert rules.layer_stages(["b", "a"], []) == [["a", "b"]]
    assert rules.layer_stages([], edges) == []


def test_layer_stages_raises_on_cycle() -> None:
    with pytest.raises(ValueError, match="cycle"):
        rules.layer_stages(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")])


def test_split_for_zpd_leaves_smooth_stages_alone() -> None:
    stages = [["a"], ["b", "c"]]
    p = {"a": 0.50, "b": 0.52, "c": 0.48}  # means 0.50 → 0.50
    assert rules.split_for_zpd(stages, p) == stages


def test_split_for_zpd_splits_violating_stage_by_score() -> None:
    stages = [["a"], ["b", "c", "d", "e"]]
    p = {"a": 0.5, "b": 0.1, "c": 0.55, "d": 0.45, "e": 0.05}
    # mean 0.2875 vs 0.5: jump 0.2125 > 0.15 * 0.5. Best-scoring half goes first.
    result = rules.split_for_zpd(stages, p)
    assert result[0] == ["a"]
    assert result[1] == ["c", "d"]
    # The low half (0.10, 0.05) is still too far from 0.5 → split again, b before e.
    assert result[2:] == [["b"], ["e"]]
    assert sorted(m for s in result for m in s) == ["a", "b", "c", "d", "e"]


def test_split_for_zpd_never_splits_first_stage_or_singletons() -> None:
    p = {"a": 0.9, "b": 0.1, "c": 0.0}
    stages = [["a", "b"], ["c"]]
    assert rules.split_for_zpd(stages, p) == stages


def test_split_for_zpd_floor_applies_when_student_scores_zero() -> None:
    p = {"a": 0.0, "b": 0.0, "c": 0.005, "d": 0.2}
    # Bound = 0.15 * max(0, 0.05) = 0.0075: a jump of 0.005 passes, 0.1 does not.
    assert rules.split_for_zpd([["a"], ["b", "c"]], p) == [["a"], ["b", "c"]]
    assert rules.split_for_zpd([["a"], ["b", "d"]], p) == [["a"], ["d"], ["b"]]


# --- mastery gate -------------------------------------------------------------------


def test_gate_advances_when_all_mastered() -> None:
    decision = rules.gate({"a": 0.95, "b": 1.0}, 0)
    assert decision.action == "advance"
    assert decision.weak == []
    assert decision.min_ratio == pytest.approx(0.95)
    assert "0.95" in decision.reason


def test_gate_remedial_below_cap() -> None:
    decision = rules.gate({"a": 0.5, "b": 0.95, "c": 1.0}, remedial_rounds=4)
    assert decision.action == "remedial"
    assert decision.weak == ["a"]
    assert decision.min_ratio == pytest.approx(0.5)
    assert "0.50" in decision.reason and "5" in decision.reason


def test_gate_stuck_at_remedial_cap() -> None:
    decision = rules.gate({"b": 0.6, "a": 0.3}, remedial_rounds=5)
    assert decision.action == "stuck"
    assert decision.weak == ["a", "b"]
    assert decision.min_ratio == pytest.approx(0.3)
    assert "stuck" in decision.reason


def test_gate_on_an_empty_stage_advances() -> None:
    decision = rules.gate({}, remedial_rounds=0)
    assert (decision.action, decision.min_ratio) == ("advance", 1.0)


def test_gate_decision_is_frozen() -> None:
    decision = rules.gate({"a": 1.0}, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.action = "stuck"  # type: ignore[misc]


# --- difficulty within a module ------------------------------------------------


def test_next_difficulty_one_notch_up_capped() -> None:
    assert rules.next_difficulty(2, 5) == 3
    assert rules.next_difficulty(4, 5) == 4  # already at the top
    assert rules.next_difficulty(-1, 5) == 0  # below level 0: start at 0
    assert rules.next_difficulty(0, 1) == 0


def test_stretch_split_moves_a_share_one_level_up_below_the_top() -> None:
    assert rules.stretch_split(10, 0, 3, 0.3) == {0: 7, 1: 3}
    assert rules.stretch_split(10, 2, 3, 0.3) == {2: 10}  # no level above the top
    assert rules.stretch_split(10, 0, 3, 0.0) == {0: 10}
    assert rules.stretch_split(4, 1, 3, 1.0) == {2: 4}


def test_student_level_requires_every_lower_level() -> None:
    assert rules.student_level({0: 0.9, 1: 0.8, 2: 0.5}, 0.7) == 1
    # A failed level stops the climb even if a higher one passes.
    assert rules.student_level({0: 0.9, 1: 0.5, 2: 0.95}, 0.7) == 0
    assert rules.student_level({0: 0.6, 1: 0.9}, 0.7) == -1
    assert rules.student_level({}, 0.7) == -1
    assert rules.student_level({0: 0.7, 2: 0.9}, 0.7) == 0  # level 1 never probed


def test_level_ratio_needs_a_solved_level_when_the_teacher_scores_zero() -> None:
    assert rules.level_ratio(0.5, 0.25) == pytest.approx(0.5)
    assert rules.level_ratio(0.0, 0.0) == 0.0  # neither solved it: the student has not reached it
    assert rules.level_ratio(0.0, 0.25) == 1.0  # the student beats a teacher that scored 0
    # With level_ratio a level where nobody scores no longer places the student above it.
    ratios = {lv: rules.level_ratio(t, s) for lv, (t, s) in enumerate([(0.0, 0.0), (0.0, 0.0), (0.25, 0.0)])}
    assert rules.student_level(ratios, 0.9) == -1
