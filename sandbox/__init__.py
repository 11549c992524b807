"""A local stand-in for Google and Microsoft: an OAuth/OIDC server, Dovecot, a smarthost and a
submission relay in front of Dovecot that injects SMTP faults.

Run it with ``python -m sandbox``; drive it with :mod:`sandbox.control`. Tether's product code
never imports this package, and this package never imports Tether.
"""
