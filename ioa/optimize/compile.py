"""One DSPy optimizer run over a teacher program: BootstrapFewShot, MIPROv2 or GEPA."""

from __future__ import annotations

import dspy
from dspy.teleprompt.gepa import InstructionProposer

from ioa.optimize.metric import ProgramMetric
from ioa.optimize.programs import MAX_DEMOS
from ioa.teacher.prompt_format import PlainAdapter

OPTIMIZERS = ("bootstrap", "mipro", "gepa")


def compile_program(
    program: dspy.Predict,
    optimizer: str,
    trainset: list[dspy.Example],
    metric: ProgramMetric,
    budget: int,
    reflection_lm: dspy.LM,
    seed: int,
    max_demos: int = MAX_DEMOS,
) -> dspy.Predict:
    """Run one DSPy optimizer on ``program``; the task LM and adapter come from ``dspy.context``.

    ``budget``: bootstrap tries at most that many training examples (one teacher call each);
    MIPROv2 runs that many trials; GEPA makes that many metric calls (each one teacher call).
    ``max_demos``: bootstrapped demos at most (the program's ``ProgramTask.max_demos``).
    """
    if optimizer == "bootstrap":
        # A reply the teacher gets wrong or malformed is no demo, never a failed run: with at most ``budget`` tries
        # there can be at most ``budget`` errors, and DSPy raises only when it reaches max_errors.
        opt = dspy.BootstrapFewShot(
            metric=metric, max_bootstrapped_demos=max_demos, max_labeled_demos=0, max_rounds=1, max_errors=budget + 1
        )
        return opt.compile(program, trainset=trainset[:budget])
    # MIPROv2 and GEPA select candidates on a validation slice of the train set; the dev set stays held out.
    n_val = max(1, min(len(trainset) // 3, budget // 4))
    val, train = trainset[:n_val], trainset[n_val:] or trainset
    if optimizer == "mipro":
        opt = dspy.MIPROv2(
            metric=metric,
            prompt_model=reflection_lm,
            auto=None,
            num_candidates=3,
            max_bootstrapped_demos=min(2, max_demos),
            max_labeled_demos=0,
            num_threads=1,
            max_errors=len(trainset) * 4,
            seed=seed,
            verbose=False,
        )
        return opt.compile(
            program,
            trainset=train[:budget],
            valset=val,
            num_trials=budget,
            minibatch=len(val) > 4,
            minibatch_size=4,
            # A small teacher cannot summarise a dataset or read source code; these proposals cost calls for noise.
            data_aware_proposer=False,
            program_aware_proposer=False,
        )
    opt = dspy.GEPA(
        metric=metric.with_feedback,
        max_metric_calls=budget,
        reflection_lm=reflection_lm,
        # GEPA's proposer asks for JSON by default; plain labelled lines are what a small teacher can write.
        instruction_proposer=InstructionProposer(adapter=PlainAdapter()),
        reflection_minibatch_size=min(3, len(train)),
        num_threads=1,
        use_merge=False,
        seed=seed,
    )
    return opt.compile(program, trainset=train, valset=val)
