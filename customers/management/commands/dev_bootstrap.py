"""`make run` set-up: demo data on an empty database, an admin login and the development API token.

The development token is reused across runs: its raw value is kept in the git-ignored ``.local/dev-api-token``
(tokens are stored hashed, so the database cannot give it back) and printed again while it is still usable.
When it is missing, revoked or expired, every earlier ``make run`` token of the admin is revoked and one new
30-day token is minted, so there is never more than one live development token.
"""

import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, call_command
from django.db import transaction
from django.utils import timezone

from cs_project.core.auth import token_create, token_revoke
from cs_project.core.context import Actor
from cs_project.core.models import ApiToken, hash_token
from customers.models import Client

ADMIN_USERNAME = "admin"
DEV_TOKEN_NAME = "make run"  # earlier versions named theirs "make run <date>": same prefix, revoked alike
DEV_TOKEN_DAYS = 30


class Command(BaseCommand):
    help = (
        "Seed demo data when the database is empty, ensure an admin user, print its login and the development "
        "API token (reused while valid)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=200)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, **opts):
        if not Client.objects.exists():
            self.stdout.write(
                f"Empty database: seeding {opts['accounts']} demo accounts over {opts['days']} days…"
            )
            call_command("seed_demo", accounts=opts["accounts"], days=opts["days"], seed=opts["seed"])
        else:
            self.stdout.write(f"Database already holds {Client.objects.count()} accounts: not seeding.")
        password = self._ensure_admin()
        raw_token = self._dev_token()
        base = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 72,
                    f"Admin:      {base}/admin/   user: {ADMIN_USERNAME}   password: {password}",
                    f"REST API:   {base}/api/v1/   (OpenAPI UI: {base}/api/docs/)",
                    f"MCP:        {base}/mcp   (streamable HTTP)",
                    f"API token:  {raw_token}",
                    f"            send as 'Authorization: Bearer {raw_token}' to /mcp and /api",
                    "            (the same token on every 'make run' while valid: .local/dev-api-token)",
                    "=" * 72,
                    "",
                ]
            )
        )

    def _ensure_admin(self) -> str:
        """The dev admin password is kept in the git-ignored .local folder so it stays the same across runs."""
        path = Path(settings.BASE_DIR) / ".local" / "admin-password"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        password = path.read_text().strip()
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        return password

    def _dev_token(self) -> str:
        """The kept development token while it is usable; otherwise revoke the old ones and mint one."""
        path = Path(settings.BASE_DIR) / ".local" / "dev-api-token"
        user = get_user_model().objects.get(username=ADMIN_USERNAME)
        kept = path.read_text().strip() if path.exists() else ""
        if kept and ApiToken.objects.usable().filter(user=user, key_hash=hash_token(kept)).exists():
            return kept
        raw = self._replace_tokens(user)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(raw)
        path.chmod(0o600)
        return raw

    @transaction.atomic
    def _replace_tokens(self, user) -> str:
        actor = Actor.system("dev_bootstrap")
        for token in ApiToken.objects.filter(
            user=user, name__startswith=DEV_TOKEN_NAME, revoked_at__isnull=True
        ):
            token_revoke(token=token, actor=actor)
        _, raw = token_create(
            user=user,
            scopes=["read", "write", "admin"],
            name=DEV_TOKEN_NAME,
            expires_at=timezone.now() + timedelta(days=DEV_TOKEN_DAYS),
            actor=actor,
        )
        return raw
