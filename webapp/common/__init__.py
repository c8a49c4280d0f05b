"""What every area shares: settings, the request's Blaxel session, error values, ids in paths and
the template filters."""
