"""The Flask extensions every part of the web app shares, created once and bound in create_app.

They live here, not in app.py, so a view can use them (`from views.extensions import htmx`)
without importing the app factory. The rate limiter has its own module: views/limits.py.
"""

from flask_htmx import HTMX
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"

# Every POST is checked here before any view runs: forms carry the hidden token, htmx
# requests the X-CSRFToken header set once on <body> (templates/base.html).
csrf = CSRFProtect()

# The one reader of the headers htmx sends (is this an htmx request, a boosted one, a
# history restore?): views ask it, never request.headers.
htmx = HTMX()


@login_manager.user_loader
def _load_user(user_id):
    from models.accounts import User

    return User.from_session_id(user_id)
