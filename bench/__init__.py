"""On-demand benchmark of the app against the simulated Blaxel API: `python -m bench`."""
