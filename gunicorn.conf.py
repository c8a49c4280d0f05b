"""`gunicorn -c gunicorn.conf.py` in a checkout: the packaged production configuration."""

from webapp.gunicorn_config import *  # noqa: F403
