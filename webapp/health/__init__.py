"""Health at a glance: recent runs, the failures summary, small charts and the timeline."""
