"""Talking to mail providers: OAuth refresh, failure classification, IMAP and SMTP.

Plain Python that views and tasks both call; it knows nothing of Flask or Peewee.
"""
