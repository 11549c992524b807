"""Sequences saved with a "day" outside Monday–Sunday (0–6), which a form once let through
(`days=56`) and which made the sequence's page fail: keep the real days; none left means
Monday–Friday, the default a new sequence gets."""

VALID = {str(d) for d in range(7)}


def up(migrator, db):
    rows = db.execute_sql("SELECT id, window_days FROM sequence").fetchall()
    for sequence_id, stored in rows:
        parts = [p.strip() for p in (stored or "").split(",") if p.strip()]
        kept = sorted({int(p) for p in parts if p in VALID})
        repaired = ",".join(map(str, kept)) or "0,1,2,3,4"
        if repaired != stored:
            db.execute_sql("UPDATE sequence SET window_days = %s WHERE id = %s"
                           .replace("%s", db.param), (repaired, sequence_id))


def down(migrator, db):
    pass  # a repair: nothing to undo
