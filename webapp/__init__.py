"""The web app, one package per area; `create_app` is the app factory of the shell."""

from .web.app import create_app as create_app
