"""Alembic revisions. Their ids are the order they were written in, not the order they apply
in (several were written at once, then chained): 0001-0005, 0007, 0008, 0011, 0010, 0009,
0012, 0006. Each file's ``down_revision`` is the truth; add the next one after the head."""

# The head revision, so that opening a current database needs no Alembic (its import and the
# scan of these files cost a quarter of a second per process: every `assay` command pays it).
# A new revision updates this line; tests/integration/test_migrations.py checks it.
HEAD = "0006"
