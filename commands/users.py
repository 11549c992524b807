"""`flask --app app users …`: the operator's way to create the first owner (with sign-up closed,
the only one), repair a password, and see who has an account.

Exit codes: 0 done; 1 refused (bad address, unknown person, address taken, weak password),
with the reason on stderr and nothing changed; 2 a usage mistake (click's own).
"""

import sys

import click


def _password(from_stdin: bool) -> str:
    """The new password: the first line of stdin (scripts), or typed twice at a prompt."""
    from models.accounts import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"That password is refused: {problem} Nothing was changed.")
    return password


def _address(email: str) -> str:
    from models.text import email_address

    try:
        return email_address(email)
    except ValueError as refusal:
        raise click.ClickException(f"{email!r} is not an email address: {refusal}") from refusal


_PASSWORD_STDIN = click.option("--password-stdin", is_flag=True,
                               help="Read the password from the first line of stdin.")


def register(app) -> None:
    @app.cli.group("users")
    def users_group():
        """People and teams: create an owner, reset a password, list who has an account."""

    @users_group.command("create-owner")
    @click.argument("email")
    @click.option("--team", "team_name", default="", help="The new team's name.")
    @click.option("--name", default="", help="The owner's own name.")
    @_PASSWORD_STDIN
    def create_owner(email, team_name, name, password_stdin):
        """Create a new team owned by EMAIL (works whatever TETHER_SIGNUP says)."""
        from peewee import IntegrityError

        from models.accounts import User
        from models.base import db

        email = _address(email)
        if User.select().where(User.email == email).exists():
            raise click.ClickException(f"{email} has an account already. Nothing was changed; "
                                       f"`users reset-password {email}` sets a new password.")
        password = _password(password_stdin)
        try:
            with db.atomic():
                user = User.sign_up(email, password, name=name, team_name=team_name)
        except IntegrityError as clash:  # created meanwhile, by a sign-up
            raise click.ClickException(f"{email} has an account already.") from clash
        click.echo(f"Created {user.email}, owner of the team {user.team.name!r}.")

    @users_group.command("reset-password")
    @click.argument("email")
    @_PASSWORD_STDIN
    def reset_password(email, password_stdin):
        """Set a new password for EMAIL and sign them out of every browser."""
        from models.accounts import User, normalize_email

        user = User.get_or_none(User.email == normalize_email(email))
        if user is None:
            raise click.ClickException(f"No account has the address {email.strip()!r}. "
                                       "`users list` shows who has one.")
        user.change_password(_password(password_stdin))
        click.echo(f"New password set for {user.email}; every session of theirs has ended.")

    @users_group.command("list")
    def list_users():
        """Every team and its people, with their roles (no secrets)."""
        from models.accounts import Team, User

        teams = list(Team.select().order_by(Team.id))
        if not teams:
            click.echo("No teams yet. Create the first owner with `users create-owner EMAIL`.")
        for team in teams:
            click.echo(f"{team.name} (team {team.id})")
            for user in team.users.order_by(User.id):
                left = "" if user.active else "  (left the team)"
                named = f"  {user.name}" if user.name else ""
                click.echo(f"  {user.email}  {user.role}{named}{left}")
