"""Failures that are not the person's fault, answered in words instead of a bare 500.

The database refusing work (read-only, disk full, locked past its timeout, unreachable) is a
503 that says nothing was changed — the request's transaction rolled back — and, for a CSV
upload, names the file to choose again. An upload over the request limit gets the import
form's own message.
"""

import logging

from flask import current_app, render_template, request, url_for
from peewee import InterfaceError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

log = logging.getLogger(__name__)
UPLOAD = "contacts.upload"


def register(app) -> None:
    app.register_error_handler(OperationalError, _cannot_save)
    app.register_error_handler(InterfaceError, _cannot_save)
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def _cannot_save(error):
    log.error("database refused %s %s: %s", request.method, request.path, error)
    upload = request.files.get("file") if request.endpoint == UPLOAD else None
    if upload is not None and upload.filename:
        message = (f"{upload.filename} was not imported. Choose the file again and retry once "
                   "Tether can save again.")
    else:
        message = "Your last change could not be saved."
    # Straight from the template, past the context processors: they would load the signed-in
    # user from the very database that is failing.
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        message=message, request=request, url_for=url_for)
    response = current_app.make_response((page, 503))
    response.headers["Retry-After"] = "60"
    return response


def _too_large(error):
    limit = current_app.config["MAX_CONTENT_LENGTH"] // 2**20
    if request.endpoint == UPLOAD:
        from views.contacts import render_upload_form

        return render_upload_form(error=f"This file is larger than {limit} MB, so it was not read. "
                                        "Split it into smaller files and import each."), 413
    return render_template("errors/error.html", code=413, title="Too large",
                           message=f"Tether takes at most {limit} MB in one request."), 413
