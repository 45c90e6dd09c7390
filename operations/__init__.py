"""Operação: incidents, jobs, coverage and usage limits, dispatch and closing.

Start at :mod:`operations.service`, the application layer: the one place where an
incident or a job changes, whoever changes it (what happens when a job moves is its
docstring). Beside it: :mod:`operations.queries` (reads), :mod:`operations.views`
(what the API and the bus show), :mod:`operations.events` (every bus event) and
:mod:`operations.outbox` (how the ones that may not be lost reach the bus). The rules
are :mod:`operations.lifecycle`, :mod:`operations.coverage`, :mod:`operations.sla`,
:mod:`operations.jobs`, :mod:`operations.incidents` and :mod:`operations.places`;
the seams to the world outside are :mod:`operations.gateways`.
"""
