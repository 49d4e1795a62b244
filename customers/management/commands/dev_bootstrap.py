"""`make run` set-up: demo data on an empty database, an admin login and a fresh API token, printed once."""

import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, call_command
from django.db import transaction
from django.utils import timezone

from cs_project.core.models import ApiToken, hash_token
from customers.models import Client

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Seed demo data when the database is empty, ensure an admin user, print its login and a new API token."

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
        raw_token = self._new_token()
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

    @transaction.atomic
    def _new_token(self) -> str:
        user = get_user_model().objects.get(username=ADMIN_USERNAME)
        raw = ApiToken.generate_raw()
        ApiToken.objects.create(
            user=user,
            name=f"make run {timezone.now():%Y-%m-%d %H:%M}",
            key_prefix=raw[:12],
            key_hash=hash_token(raw),
            scopes=["read", "write", "admin"],
            expires_at=timezone.now() + timedelta(days=30),
        )
        return raw
