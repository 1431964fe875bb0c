"""Stored labs: each lab's validated document (the one truth) and its assignments, plus rows
that project the document for listings and the admin, rebuilt on save and never read back."""
