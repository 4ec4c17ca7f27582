"""What a student's answer may use: one module per exercise.

Each module holds the exercise's message classes, helper functions and base
classes (everything the notebook's locked set-up cell imports), the names the
answer must define (``INTERFACE``), the set-up code the grader puts in front
of the extracted answer (``PREAMBLE``), and the small adapter the grader's
worker uses to call the answer (``call`` for functions; ``make_node`` and
``view`` for nodes).  No solutions live here, and nothing here judges an
answer: the verdict is computed by :mod:`consensus_lab.grading.specs`, in the
grader's own process.
"""
