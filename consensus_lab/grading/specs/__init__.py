"""The judging side of each exercise: checks, references, invariants.

One module per exercise defines ``SPEC``, an :class:`~consensus_lab.grading.checks.ExerciseSpec`.
These modules run only in the grader's (or the notebook's) own process.
"""
