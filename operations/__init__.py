"""Operação: incidents, jobs, coverage and usage limits, dispatch and closing."""
