"""Contacts: adding, editing and deleting people, acting on many at once, importing them
from CSV, enrolling them in sequences.

Everyone in the team may add, edit, delete, import and enroll the team's contacts.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from models.contact_actions import consequences, delete_contacts, remove_from_sequence
from models.contacts import (
    BAD_ROWS_KEPT,
    FIELD_LABELS,
    FIELDS,
    MAX_BYTES,
    MAX_ROWS,
    Contact,
    ContactImport,
    ImportRefused,
    add_contact,
    custom_fields_text,
    edit_contact,
    import_next_chunk,
    preview_import,
)
from models.sequences import Enrollment, Sequence, enroll
from views.common import render, team_object_or_404
from views.extensions import htmx
from views.forms.contacts import BULK_ACTIONS, BulkForm, ContactForm, EditContactForm, ImportForm
from views.inputs import object_id, page_number

bp = Blueprint("contacts", __name__)
PER_PAGE = 50


def _page() -> int:
    return page_number()


def _sequences():
    return list(Sequence.select(Sequence.id, Sequence.name)
                .where(Sequence.team == current_user.team_id).order_by(Sequence.name))


@bp.route("/contacts")
@login_required
def index():
    """The team's contacts, newest first, with a search; tick some (or all that match) to
    act on them. The search and the pages swap the table only, and the URL follows."""
    q = request.args.get("q", "").strip()
    contacts, total, page = Contact.page_of(current_user.team_id, q, _page(), PER_PAGE)
    return render("contacts/index.html", "contacts/_table.html", q=q, current_page=page,
                  per_page=PER_PAGE, total=total, contacts=contacts,
                  sequences=_sequences(), actions=BULK_ACTIONS)


@bp.route("/contacts/<id:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contact_id):
    """Edit a contact's fields and custom fields; the sequences they are in are listed."""
    contact = team_object_or_404(Contact, contact_id)
    form = EditContactForm(obj=contact if request.method == "GET" else None)
    if request.method == "GET":
        form.custom_fields.data = custom_fields_text(contact)
    elif form.validate_on_submit():
        problems = edit_contact(contact, form.data, form.custom)
        if not problems:
            flash(f"{form.email.data} saved.", "success")
            return redirect(url_for("contacts.index"))
        for name, problem in problems.items():
            form[name].errors.append(problem)
    enrollments = list(Enrollment.select(Enrollment, Sequence)
                       .join(Sequence).where(Enrollment.contact == contact.id)
                       .order_by(Sequence.name))
    return (render_template("contacts/edit.html", form=form, contact=contact, fields=FIELDS,
                            enrollments=enrollments), 422 if form.errors else 200)


@bp.route("/contacts/<id:contact_id>/delete", methods=["GET", "POST"])
@login_required
def delete(contact_id):
    """Say what deleting a contact stops, then delete it once confirmed."""
    contact = team_object_or_404(Contact, contact_id)
    one = Contact.select().where(Contact.id == contact.id)
    if request.method == "POST":
        delete_contacts(current_user.team_id, one, current_user)
        flash(f"{contact.email} deleted.", "success")
        return redirect(url_for("contacts.index"))
    return render_template("contacts/delete.html", contact=contact, said=consequences(one))


def _selection(form: BulkForm):
    """The contacts a bulk form names, always within the team: all that match its search,
    or the ticked ones (a page's worth at most)."""
    if form.all.data == "1":
        return Contact.search(current_user.team_id, form.q.data)
    ids = [i for i in map(object_id, request.form.getlist("contact")) if i][:PER_PAGE * 4]
    return Contact.select().where((Contact.team == current_user.team_id) & Contact.id.in_(ids))


@bp.route("/contacts/bulk", methods=["POST"])
@login_required
def bulk():
    """Enroll, remove from a sequence or delete many contacts: first a page that says how
    many and what it stops, then — confirmed — done."""
    form = BulkForm()
    if not form.validate():
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(url_for("contacts.index", q=form.q.data or None))
    sequence = (team_object_or_404(Sequence, form.sequence.data)
                if form.action.data in ("enroll", "remove") else None)
    contacts = _selection(form)
    if form.action.data == "enroll":
        count = contacts.count()
        already = (Enrollment.select().where((Enrollment.sequence == sequence.id)
                                             & Enrollment.contact.in_(contacts.select(Contact.id)
                                                                      .order_by()))
                   .count() if count else 0)
        said = None
    else:
        said = consequences(contacts, sequence)
        count, already = said.contacts, 0
    if not count:
        flash("Tick the contacts to act on, or choose all that match.", "error")
        return redirect(url_for("contacts.index", q=form.q.data or None))
    if form.confirmed.data != "1":
        return render_template("contacts/bulk.html", form=form, sequence=sequence, count=count,
                               already=already, said=said,
                               ids=request.form.getlist("contact")[:PER_PAGE * 4])
    return _do_bulk(form.action.data, sequence, contacts, form.q.data)


def _do_bulk(action, sequence, contacts, q):
    def plural(n):
        return f"{n:,} contact{'s' if n != 1 else ''}"

    if action == "delete":
        flash(f"{plural(delete_contacts(current_user.team_id, contacts, current_user))} "
              "deleted.", "success")
    elif action == "remove":
        removed = remove_from_sequence(sequence, contacts, current_user)
        flash(f"{plural(removed)} removed from “{sequence.name}”.", "success")
    elif action == "enroll":
        added, note = _enroll(sequence, contacts)
        flash(f"{plural(added)} enrolled in “{sequence.name}”{note}.",
              "success" if added else "info")
    else:
        abort(400)
    return redirect(url_for("contacts.index", q=q or None))


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def new():
    """Add one contact."""
    form = ContactForm()
    if form.validate_on_submit():
        contact, problems = add_contact(current_user.team_id, form.data)
        if contact:
            flash(f"{contact.email} added to your contacts.", "success")
            return redirect(url_for("contacts.index"))
        for name, problem in problems.items():  # a duplicate: known only to the database
            form[name].errors.append(problem)
    return (render_template("contacts/new.html", form=form, fields=FIELDS),
            422 if form.errors else 200)


@bp.route("/contacts/import", methods=["GET", "POST"])
@login_required
def upload():
    """Choose a CSV file; it is checked in full and previewed before anything is imported."""
    form = ImportForm()
    if form.validate_on_submit():
        try:
            contact_import = preview_import(current_user.team_id, current_user,
                                            form.file.data.filename, form.file.data.read())
            return redirect(url_for("contacts.import_status", import_id=contact_import.id))
        except ImportRefused as refused:
            form.file.errors.append(str(refused))
    return render_upload_form(form), 422 if form.errors else 200


def render_upload_form(form=None, error: str | None = None):
    """The upload page; `error` for a refusal made before the form could read the request
    (a body over the request limit: views/errors.py)."""
    form = form or ImportForm(formdata=None)
    if error:
        form.file.errors = [error]
    return render_template("contacts/import.html", form=form, max_rows=MAX_ROWS,
                           max_mb=MAX_BYTES // 2**20)


def _import_page(contact_import):
    return render("contacts/import_status.html", "contacts/_import.html", imp=contact_import,
                  fields=FIELDS, labels=FIELD_LABELS, kept=BAD_ROWS_KEPT,
                  sequences=Sequence.select(Sequence.id, Sequence.name)
                  .where(Sequence.team == current_user.team_id).order_by(Sequence.name))


@bp.route("/contacts/imports/<id:import_id>")
@login_required
def import_status(import_id):
    """An import's preview, its progress, or its outcome."""
    return _import_page(team_object_or_404(ContactImport, import_id))


@bp.route("/contacts/imports/<id:import_id>/run", methods=["POST"])
@login_required
def run_import(import_id):
    """Write the next chunk of good rows. The progress bar asks again until it is done."""
    contact_import = import_next_chunk(team_object_or_404(ContactImport, import_id))
    if not htmx:
        return redirect(url_for("contacts.import_status", import_id=contact_import.id))
    return _import_page(contact_import)


@bp.route("/contacts/imports/<id:import_id>/cancel", methods=["POST"])
@login_required
def cancel_import(import_id):
    """Drop a previewed import; nothing was imported."""
    contact_import = team_object_or_404(ContactImport, import_id)
    (ContactImport.update(status="cancelled", rows="")
     .where((ContactImport.id == contact_import.id) & (ContactImport.status == "ready"))
     .execute())
    flash("Import cancelled; nothing was imported.", "info")
    return redirect(url_for("contacts.index"))


# ---- Enrolling ----------------------------------------------------------------------------------

def _enroll_candidates(sequence, source):
    contacts = Contact.search(current_user.team_id, request.values.get("q", ""))
    if source:
        contacts = contacts.where(Contact.source_import == source)
    return contacts


@bp.route("/sequences/<id:sequence_id>/enroll", methods=["GET", "POST"], endpoint="enroll")
@login_required
def enroll_contacts(sequence_id):
    """Pick contacts (or all that match a search, or all of one import) to enroll."""
    sequence = team_object_or_404(Sequence, sequence_id)
    source = object_id(request.values.get("import"))
    contacts = _enroll_candidates(sequence, source)
    if request.method == "POST":
        if request.form.get("all") != "1":
            ids = [i for i in map(object_id, request.form.getlist("contact")) if i]
            contacts = Contact.select().where(Contact.id.in_(ids[:PER_PAGE * 4]))
        added, note = _enroll(sequence, contacts)
        if added or note:
            flash(f"{added:,} contact{'s' if added != 1 else ''} enrolled{note}.",
                  "success" if added else "info")
            return redirect(url_for("sequences.show", sequence_id=sequence.id))
        flash("Choose the contacts to enroll.", "error")
    shown = list(contacts.paginate(_page(), PER_PAGE))
    enrolled = {cid for (cid,) in Enrollment.select(Enrollment.contact).where(
        (Enrollment.sequence == sequence) & Enrollment.contact.in_([c.id for c in shown])).tuples()}
    return render("contacts/enroll.html", "contacts/_enroll_table.html", sequence=sequence,
                  q=request.values.get("q", "").strip(), source=source, current_page=_page(),
                  per_page=PER_PAGE, total=contacts.count(), enrolled=enrolled, contacts=shown)


def _enroll(sequence, contacts) -> tuple[int, str]:
    """Enroll `contacts` (the bulk action and the enroll page alike): how many joined, and a
    note on those who did not — already in it, or unsubscribed (the suppression list)."""
    added, already, barred = enroll(sequence, contacts, current_user)
    if added:
        from tasks.sending import send_now

        send_now(sequence.mailbox_id)  # their first emails go now, not at the next sweep
    notes = ([f"{already:,} were in it already"] if already else []) + (
        [f"{barred:,} skipped: on the suppression list (unsubscribed)"] if barred else [])
    return added, f" ({'; '.join(notes)})" if notes else ""
