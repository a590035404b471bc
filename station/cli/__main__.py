"""`python -m station.cli`: the store's commands without the kiosk app's."""

from station.cli import main

main()
