"""The pieces the screens share: plain-text labels and tables, the translated footer, the
record form built from the schema, the confirm dialog, the sync status."""
