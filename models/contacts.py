"""Contacts: the people sequences write to, added one by one, edited, or imported from a CSV
file. Deleting them and acting on many at once touches their sequences: models/contact_actions.py.

An import is read and checked in full first (the preview: good rows, bad rows and why), then
written in chunks that each commit on their own, so a large file shows progress and an
interrupted import continues where it stopped. A file that cannot be read imports nothing.
A row whose address is already a contact of the team updates that contact (an empty cell
keeps what is stored: a spreadsheet with gaps never erases anything); a row that would change
nothing is skipped as unchanged. The import counts new, updated and skipped (unchanged + bad).
"""

import csv
import json
import re

from peewee import (
    EXCLUDED,
    SQL,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    NodeList,
    SqliteDatabase,
    TextField,
    Value,
    fn,
)

import clock
from models.accounts import Team, User
from models.base import Timestamped, db
from models.suppressions import suppressed
from models.templating import CUSTOM_NAME, field_name
from models.templating import FIELDS as TEMPLATE_FIELDS
from models.text import email_address, has_control_chars

FIELDS = ("email", "first_name", "last_name", "company", "title")
FIELD_LABELS = {"email": "Email", "first_name": "First name", "last_name": "Last name",
                "company": "Company", "title": "Title"}
MAX_FIELD = 200
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
CHUNK = 2_000
BAD_ROWS_KEPT = 500  # bad rows listed in the preview; the count covers all of them

# Column names people's spreadsheets use, folded to lower case without spaces or _ or -.
_ALIASES = {
    "email": "email", "emailaddress": "email", "mail": "email", "e-mail": "email",
    "firstname": "first_name", "givenname": "first_name", "first": "first_name",
    "lastname": "last_name", "surname": "last_name", "familyname": "last_name",
    "last": "last_name",
    "company": "company", "companyname": "company", "organization": "company",
    "organisation": "company", "account": "company",
    "title": "title", "jobtitle": "title", "position": "title", "role": "title",
}


def field_problem(value: str, field: str) -> str | None:
    """Why `value` (already trimmed) cannot be a contact's `field`; None if it can. The
    address itself is models.text.email_address's to judge."""
    if has_control_chars(value):
        return f"line break, control or text-direction character in {field}"
    if len(value) > MAX_FIELD:
        return f"{field} is longer than {MAX_FIELD} characters"
    return None


class ContactImport(Timestamped):
    """One CSV file: its preview, then its progress as the good rows are written."""

    team = ForeignKeyField(Team, backref="contact_imports", on_delete="CASCADE")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    filename = CharField(default="")
    status = CharField(default="ready")  # ready → importing → done; or cancelled
    total_rows = IntegerField(default=0)
    good_count = IntegerField(default=0)
    bad_count = IntegerField(default=0)
    done_rows = IntegerField(default=0)   # good rows written so far
    imported = IntegerField(default=0)    # new contacts written so far
    update_count = IntegerField(default=0)  # of the good rows, those that update a contact
    updated = IntegerField(default=0)     # contacts updated so far
    unchanged = IntegerField(default=0)   # rows that would change nothing: skipped
    rows = TextField(default="")          # JSON: the good rows, emptied once done
    bad_rows = TextField(default="[]")    # JSON: the first BAD_ROWS_KEPT bad rows, with why
    ignored_columns = TextField(default="[]")
    finished_at = DateTimeField(null=True)

    @property
    def bad(self) -> list[dict]:
        return json.loads(self.bad_rows or "[]")

    @property
    def ignored(self) -> list[str]:
        return json.loads(self.ignored_columns or "[]")

    @property
    def sample(self) -> list[dict]:
        return [dict(zip(FIELDS, row, strict=True)) for row in
                json.loads(self.rows or "[]")[:5]]

    @property
    def percent(self) -> int:
        return 100 if not self.good_count else self.done_rows * 100 // self.good_count

    @property
    def new_count(self) -> int:
        """Of the good rows, those that add a contact (as the preview saw the team)."""
        return self.good_count - self.update_count

    @property
    def skipped(self) -> int:
        """Rows that wrote nothing: unchanged ones and bad ones."""
        return self.unchanged + self.bad_count


class Contact(Timestamped):
    team = ForeignKeyField(Team, backref="contacts", on_delete="CASCADE")
    email = CharField()
    first_name = CharField(default="")
    last_name = CharField(default="")
    company = CharField(default="")
    title = CharField(default="")
    custom_fields = TextField(default="{}")  # JSON {name: value}: the team's own fields
    source_import = ForeignKeyField(ContactImport, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("team", "email"), True), (("team", "created_at", "id"), False))

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def custom(self) -> dict[str, str]:
        return json.loads(self.custom_fields or "{}")

    @classmethod
    def search(cls, team_id, text=""):
        """The team's contacts whose email, name (first, last or "first last") or company
        holds `text`, newest first, letter case aside; % and _ match themselves.

        One LIKE over one string per contact — email, "first last" and company on lines of
        their own, and the search text holds no line break, so a match never straddles two
        fields: the same matches as a LIKE per field, at a third of the time on PostgreSQL
        (whose ILIKE is slow). SQLite's LIKE ignores letter case by itself (ASCII)."""
        query = cls.select().where(cls.team == team_id)
        text = " ".join((text or "").split())[:MAX_FIELD].lower()
        if text:
            haystack = (cls.email.concat("\n").concat(cls.first_name).concat(" ")
                        .concat(cls.last_name).concat("\n").concat(cls.company))
            if not isinstance(db.obj, SqliteDatabase):
                haystack = fn.LOWER(haystack)
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            # Spelled out: Peewee's SQLite dialect turns OP.LIKE into the case-sensitive GLOB.
            query = query.where(NodeList((haystack, SQL("LIKE"), Value(f"%{escaped}%"),
                                          SQL("ESCAPE"), Value("\\"))))
        return query.order_by(cls.created_at.desc(), cls.id.desc())

    @classmethod
    def page_of(cls, team_id, text: str, page: int, per_page: int) -> tuple[list, int, int]:
        """One page of `search`, how many match, and the page shown: one past the end shows
        the last.

        Mostly the count is a query of its own: the page then walks the (team, created_at,
        id) index newest first and stops after its rows, where a count riding along as a
        window would read every match first (SQLite: 17 → 43 ms for a search most contacts
        match). PostgreSQL's planner cannot estimate a LIKE over the joined fields and so
        reads every contact of the team for a search's page anyway, sorting them: there the
        count rides along that scan (one pass over the rows instead of two)."""
        query = cls.search(team_id, text)
        if (text or "").split() and not isinstance(db.obj, SqliteDatabase):
            rows = list(query.select_extend(fn.COUNT(SQL("*")).over().alias("matches"))
                        .paginate(page, per_page))
            if rows:
                return rows, rows[0].matches, page
        total = query.count()  # also: nothing matched, or a page past the end
        page = min(page, max(1, (total + per_page - 1) // per_page))
        return list(query.paginate(page, per_page)), total, page


def clean_fields(values: dict) -> tuple[dict, dict]:
    """Normalize a contact's fields; returns (fields, problems by field)."""
    fields = {f: (values.get(f) or "").strip() for f in FIELDS}
    problems = {f: p for f in FIELDS if (p := field_problem(fields[f], f))}
    if "email" not in problems:
        try:
            fields["email"] = email_address(fields["email"])
        except ValueError as e:
            problems["email"] = str(e)
    return fields, problems


# A custom field's name is what a step writes as {{name}}, folded as models/templating.py
# `field_name` says (Industry Name → industry_name); never a built-in field.
MAX_CUSTOM = 20


def parse_custom_fields(text: str) -> tuple[dict[str, str], str | None]:
    """Custom fields as people type them, one `name: value` a line; returns (fields, None)
    or ({}, why not). A line without a value removes that field."""
    fields: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = field_name(name), value.strip()
        if not colon or not CUSTOM_NAME.fullmatch(name):
            return {}, (f"Line {number}: write each field as name: value, the name a letter "
                        "then letters, digits, spaces or _, at most 40 (like industry: Retail).")
        if name in FIELDS:
            return {}, f"Line {number}: {name} is a contact field of its own, above."
        if name in TEMPLATE_FIELDS:
            return {}, f"Line {number}: {{{{{name}}}}} is filled in by Tether for each email."
        if name in fields:
            return {}, f"Line {number}: {name} appears twice."
        if problem := field_problem(value, name):
            return {}, f"Line {number}: {problem}."
        if value:
            fields[name] = value
    if len(fields) > MAX_CUSTOM:
        return {}, f"At most {MAX_CUSTOM} custom fields per contact."
    return fields, None


def custom_field_names(team_id) -> set[str]:
    """The custom fields at least one of the team's contacts has: with models/templating.py's
    own fields, the fields the team's emails may use. The database reads the JSON itself (one
    pass over the team's rows, no row sent to Python)."""
    if isinstance(db.obj, SqliteDatabase):
        sql = ("SELECT DISTINCT j.key FROM contact, json_each(contact.custom_fields) AS j "
               "WHERE contact.team_id = ? AND contact.custom_fields <> '{}'")
    else:
        sql = ("SELECT DISTINCT json_object_keys(custom_fields::json) FROM contact "
               "WHERE team_id = %s AND custom_fields <> '{}'")
    return {name for (name,) in db.execute_sql(sql, (team_id,))}


def custom_fields_text(contact: "Contact") -> str:
    """The contact's custom fields as the edit form shows them."""
    return "\n".join(f"{name}: {value}" for name, value in contact.custom.items())


def add_contact(team_id, values: dict) -> tuple[Contact | None, dict]:
    """Add one contact; returns (contact, {}) or (None, problems by field)."""
    fields, problems = clean_fields(values)
    if not problems and Contact.get_or_none((Contact.team == team_id)
                                            & (Contact.email == fields["email"])):
        problems["email"] = "already in your contacts"
    if problems:
        return None, problems
    return Contact.create(team=team_id, **fields), {}


def edit_contact(contact: Contact, values: dict,
                 custom: dict[str, str] | None = None) -> dict:
    """Save a contact's fields (and custom fields, when given); returns problems by field,
    {} when saved. A new address is the contact's from the next email on: a waiting email
    reads the contact when a sender claims it (one being sent right now keeps the old one)."""
    fields, problems = clean_fields(values)
    if not problems and fields["email"] != contact.email and Contact.get_or_none(
            (Contact.team == contact.team_id) & (Contact.email == fields["email"])
            & (Contact.id != contact.id)):
        problems["email"] = "already in your contacts"
    if problems:
        return problems
    if custom is not None:
        fields["custom_fields"] = json.dumps(custom, ensure_ascii=False)
    try:
        with db.atomic():  # only this team's row, whatever the caller passed in
            (Contact.update(**fields)
             .where((Contact.id == contact.id) & (Contact.team == contact.team_id)).execute())
    except IntegrityError:  # the address was added by someone else a moment ago
        return {"email": "already in your contacts"}
    return {}


# ---- CSV import -------------------------------------------------------------------------------

class ImportRefused(ValueError):
    """The file as a whole cannot be imported; the message says why and what to do."""


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportRefused("This file is empty.")
    if b"\x00" in data[:4096] or data[:2] == b"PK":
        raise ImportRefused("This is not a CSV text file (a spreadsheet, perhaps). "
                            "Save it as “CSV UTF-8” and import that.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ImportRefused(f"This file is not UTF-8 text (line {line:,} has a character "
                            "that is not). Save it as “CSV UTF-8” and import it again.") from e


def _header(cells: list[str]) -> tuple[list[str | None], list[str]]:
    """The field each column holds (None for columns we ignore), and the ignored names."""
    fields, ignored = [], []
    for cell in cells:
        key = re.sub(r"[\s_\-.]+", "", cell.strip().lower())
        field = _ALIASES.get(key)
        if field and field in fields:
            raise ImportRefused(f"The column “{cell.strip()}” appears twice in the header.")
        fields.append(field)
        if not field and cell.strip():
            ignored.append(cell.strip())
    if "email" not in fields:
        if any("@" in cell for cell in cells):
            raise ImportRefused("The first line holds a contact, not column names. Add a "
                                "first line naming the columns: email,first_name,last_name,"
                                "company,title.")
        raise ImportRefused("No email column. The first line must name the columns, one of "
                            "them email (the others can be first_name, last_name, company, "
                            "title).")
    return fields, ignored


def _records(text: str):
    """(line number, values or the csv.Error) for each physical line of the file.

    Every contact field is one line, so a record never spans lines: reading line by line, an
    unclosed quote spoils only its own line, instead of swallowing every row after it."""
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        try:
            yield number, next(csv.reader([line], dialect, strict=True), [])
        except csv.Error as e:
            yield number, e


def read_csv(data: bytes) -> tuple[list[str], list[dict], list[dict], list[str]]:
    """Check a whole file: (good rows in FIELDS order, bad rows, …, ignored columns).

    Returns (good, bad, good_lines, ignored); raises ImportRefused for a file that cannot be
    imported at all. Duplicates against the team's contacts are checked by preview_import().
    """
    if len(data) > MAX_BYTES:
        raise ImportRefused(f"This file is larger than {MAX_BYTES // 1024 // 1024} MB. "
                            f"Split it into files of at most {MAX_ROWS:,} rows.")
    records = _records(_decode(data))
    good, bad, lines, seen = [], [], [], {}
    for line, header in records:
        if isinstance(header, csv.Error):
            raise ImportRefused(f"Line {line:,}, the header, cannot be read as CSV ({header}). "
                                "Check its quotes.")
        if any(c.strip() for c in header):
            break
    else:
        raise ImportRefused("This file is empty.")
    columns, ignored = _header(header)
    for line, row in records:
        if isinstance(row, csv.Error):
            bad.append({"line": line, "email": "", "reason": "a quote is opened and not closed"})
            continue
        if not any(c.strip() for c in row):
            continue
        if len(good) + len(bad) >= MAX_ROWS:
            raise ImportRefused(f"This file has more than {MAX_ROWS:,} rows. Split it "
                                f"into files of at most {MAX_ROWS:,} rows each.")
        values = {f: row[i] for i, f in enumerate(columns) if f and i < len(row)}
        missing = [f for i, f in enumerate(columns) if f and i >= len(row)]
        fields, problems = clean_fields(values)
        if missing:
            reason = "missing column: " + ", ".join(missing)
        elif any(c.strip() for c in row[len(columns):]):
            reason = f"{len(row)} values for {len(columns)} columns"
        elif problems:
            reason = problems.get("email") or next(iter(problems.values()))
        elif fields["email"] in seen:
            reason = f"duplicate of line {seen[fields['email']]:,}"
        else:
            seen[fields["email"]] = line
            good.append([fields[f] for f in FIELDS])
            lines.append(line)
            continue
        bad.append({"line": line, "email": (values.get("email") or "").strip()[:80],
                    "reason": reason})
    if not good and not bad:
        raise ImportRefused("This file has no contacts below its header line.")
    return good, bad, lines, ignored


def _stored(team_id, emails: list[str]) -> dict[str, list[str]]:
    """The team's contacts among `emails`: {email: their fields in FIELDS order}."""
    found = {}
    for start in range(0, len(emails), 500):
        for row in (Contact.select(*[getattr(Contact, f) for f in FIELDS])
                    .where((Contact.team == team_id)
                           & Contact.email.in_(emails[start:start + 500])).tuples()):
            found[row[0]] = list(row)
    return found


def _merged(row: list[str], stored: list[str]) -> list[str]:
    """A row over a stored contact: each empty cell keeps the stored value."""
    return [new or old for new, old in zip(row, stored, strict=True)]


def _sort_rows(team_id, good: list[list[str]]) -> tuple[list, list, int]:
    """Who gets in: the good rows split into (new contacts, updates as merged rows, the
    number of rows that would change nothing). Both the preview and each chunk's write ask
    this, so a contact added or edited meanwhile is counted as what it is by then."""
    stored = _stored(team_id, [row[0] for row in good])
    new, updates, unchanged = [], [], 0
    for row in good:
        if row[0] not in stored:
            new.append(row)
        elif (merged := _merged(row, stored[row[0]])) != stored[row[0]]:
            updates.append(merged)
        else:
            unchanged += 1
    return new, updates, unchanged


def preview_import(team_id, user, filename: str, data: bytes) -> ContactImport:
    """Check the file and keep its preview; nothing is imported yet."""
    good, bad, lines, ignored = read_csv(data)
    barred = suppressed(team_id, [row[0] for row in good])  # unsubscribed: never imported again
    if barred:
        bad += [{"line": line, "email": row[0], "reason": "on the suppression list (unsubscribed)"}
                for row, line in zip(good, lines, strict=True) if row[0] in barred]
        bad.sort(key=lambda b: b["line"])
        good = [row for row in good if row[0] not in barred]
    new, updates, unchanged = _sort_rows(team_id, good)
    rows = new + updates
    return ContactImport.create(
        team=team_id, created_by=user, filename=(filename or "")[:200],
        total_rows=len(good) + len(bad), good_count=len(rows), bad_count=len(bad),
        update_count=len(updates), unchanged=unchanged,
        rows=json.dumps(rows, separators=(",", ":")), bad_rows=json.dumps(bad[:BAD_ROWS_KEPT]),
        ignored_columns=json.dumps(ignored), status="ready" if rows else "done",
        finished_at=None if rows else clock.now())


def import_next_chunk(contact_import: ContactImport) -> ContactImport:
    """Write the next CHUNK good rows in one transaction and return the import, reloaded.

    Claiming the chunk is a compare-and-set on done_rows, so two tabs (or a retried request)
    never write it twice. The rows are sorted again against the team's contacts as they are
    now: one added meanwhile is updated, not doubled, and one already like the row is counted
    unchanged.
    """
    start = contact_import.done_rows
    if contact_import.status in ("ready", "importing") and start < contact_import.good_count:
        chunk = json.loads(contact_import.rows)[start:start + CHUNK]
        with db.atomic():
            claimed = (ContactImport.update(done_rows=start + len(chunk), status="importing")
                       .where((ContactImport.id == contact_import.id)
                              & (ContactImport.done_rows == start)
                              & ContactImport.status.in_(("ready", "importing")))
                       .execute())
            if claimed:
                _write(contact_import, chunk, start + len(chunk) >= contact_import.good_count)
    return ContactImport.get_by_id(contact_import.id)


def _write(contact_import: ContactImport, chunk: list[list[str]], last: bool) -> None:
    """One chunk, inside the claim's transaction: new contacts and updates in one upsert
    per 500 rows (an update keeps the contact's creation time and first import)."""
    new, updates, unchanged = _sort_rows(contact_import.team_id, chunk)
    now = clock.now()
    rows = [dict(zip(FIELDS, row, strict=True), team=contact_import.team_id,
                 source_import=contact_import.id, created_at=now) for row in new + updates]
    for i in range(0, len(rows), 500):
        (Contact.insert_many(rows[i:i + 500])
         .on_conflict(conflict_target=[Contact.team, Contact.email],
                      update={getattr(Contact, f): getattr(EXCLUDED, f) for f in FIELDS[1:]})
         .execute())
    done = {"status": "done", "rows": "", "finished_at": now} if last else {}
    (ContactImport.update(imported=ContactImport.imported + len(new),
                          updated=ContactImport.updated + len(updates),
                          unchanged=ContactImport.unchanged + unchanged, **done)
     .where(ContactImport.id == contact_import.id).execute())
