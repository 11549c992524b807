"""Contacts: adding people, importing them from CSV, enrolling them in sequences."""

from flask import Blueprint

bp = Blueprint("contacts", __name__)
