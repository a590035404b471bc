"""`county`: the county platform's command line.

The hub itself (init, serve, station enrollment, schema push, export, report) arrives with
the sync work (issue 4); until then this group only answers --help and --version.
"""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="township-station")
def main() -> None:
    """Township Station county platform (the hub): not yet available in this version."""


if __name__ == "__main__":
    main()
