-- PostgreSQL's ledger triggers were rewritten with their statements inline (its 0014); SQLite's
-- triggers always had theirs inline. Nothing changes here: the two folders keep one numbering.
SELECT 1;
