"""The kiosk app (Textual). Built in issue 6; only this package may import textual."""
