"""Runs remembered: a digest of each finished execution, kept durably, read across a job's runs
(causes new or recurring, failures over time, flaky tasks, slower than usual).

record.py (one task's line, made by the failure-groups walk) → digest.py (an execution's
digest) → kept.py (the store) → window.py (a job's last N finished runs, filled under the scan
budget) → reading.py (what the runs say) → shown.py (what other pages show), views.py (routes)
and cli.py (`blaxel-jobs digest`).
"""
