"""The shell: the app factory, who may come in, limits, errors, headers, the request log,
readiness, the production server and the command line."""
