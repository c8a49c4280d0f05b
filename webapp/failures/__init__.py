"""Failure groups: causes read from conditions and the groups of an execution's failed tasks."""
