"""A question end to end: plan → run → assemble → escalate, and the baseline modes.

This layer composes the planner, the runtime, the assembler, memory and the
escalation ladder; the runtime below it only executes plans.
"""
