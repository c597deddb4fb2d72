"""The study's static HTML report: one section per finding, verdicts from numbers.

``verdicts`` turns stage results into reproduced / not reproduced /
inconclusive, each with the numbers it rests on; ``html.write_report`` renders
``index.html`` (no external resources) beside the figures and tables.
"""
