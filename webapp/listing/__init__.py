"""Listings of jobs, executions and tasks: the URL's state, pages, the bounded walks and their
cursors, stepping, exports."""
