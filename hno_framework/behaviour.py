"""What a step or integrator may declare about its own behaviour (``behaviour = frozenset({...})``).

A leaf module (no torch), so the registry validates declarations without importing the component bases.
Each declaration relaxes exactly the behavioural checks of the consistency suite it names, and nothing else;
a component declares nothing by default, and every check applies.
"""

from __future__ import annotations

BEHAVIOURS: dict[str, str] = {
    "stochastic": "draws random numbers in train mode (dropout, noise injection); the checks that compare two "
                  "outputs (determinism, batch independence, state_dict round trip, same output across "
                  "processes) run in eval mode, where it must be deterministic, and eval_matches_train is skipped",
    "uses-batch-statistics": "normalises with statistics of the batch in train mode (batch norm); batch_independence "
                             "runs in eval mode, and eval_matches_train is skipped",
    "ignores-measurements": "its output does not depend on the measurements y (a pure prior, a test double); "
                            "skips depends_on_y",
    "bounded-input-range": "is finite only near the problem's typical scale (e.g. an exponential of the input); "
                           "skips finite_over_scales",
    "unused-parameters": "has learnable parameters that may get no gradient in a short training run (used only "
                         "in some modes or layers); the gradients check then only asks for finite gradients",
    "nondeterministic": "two runs with one seed may differ (e.g. non-deterministic kernels); skips the "
                        "comparisons of determinism, same_output_across_processes and state_dict_round_trip",
}
"""Known declarations and what each one relaxes."""


def unknown_behaviours(declared: object) -> list[str] | None:
    """Declared names that are not in :data:`BEHAVIOURS` (sorted); None when ``declared`` is not a collection of
    strings (a plain string is refused: ``frozenset("stochastic")`` would be its letters)."""
    if isinstance(declared, str) or not isinstance(declared, (frozenset, set, tuple, list)):
        return None
    if not all(isinstance(d, str) for d in declared):
        return None
    return sorted(set(declared) - BEHAVIOURS.keys())


__all__ = ["BEHAVIOURS", "unknown_behaviours"]
