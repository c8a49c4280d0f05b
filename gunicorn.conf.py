"""`gunicorn -c gunicorn.conf.py` in a checkout: the packaged production configuration."""

from webapp.web.gunicorn_config import *  # noqa: F403
