"""``manage.py create_api_token --user U --scopes read,write [--expires-days N] [--name X]``."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cs_project.core.auth import token_create
from cs_project.core.context import Actor
from cs_project.core.errors import ToolError


class Command(BaseCommand):
    help = "Issue an API token for a user and print the raw token once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of the token's owner.")
        parser.add_argument(
            "--scopes", default="read", help="Comma-separated subset of read, write, admin (default: read)."
        )
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Lifetime in days (default: none)."
        )
        parser.add_argument("--name", default="", help="A label, e.g. 'Claude desktop'.")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["user"]})
        except User.DoesNotExist:
            raise CommandError(f"No user {options['user']!r}.") from None
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            token, raw = token_create(
                user=user,
                scopes=scopes,
                name=options["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                actor=Actor.system("create_api_token"),
            )
        except ToolError as exc:
            raise CommandError(exc.message) from None
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stderr.write(
            f"Token {token.key_prefix}… for {user.get_username()} (scopes: {','.join(token.scopes)}; "
            f"expires: {expiry}). Store it now: it cannot be shown again."
        )
        self.stdout.write(raw)
