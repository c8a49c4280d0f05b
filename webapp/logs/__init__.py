"""A task's logs: the window and filters of the URL, the lines as shown, the download."""
