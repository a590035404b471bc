"""The kiosk app's screens, one module each. Each takes the store (and what else it shows)
through its constructor; none reaches into the app for it."""
