"""One settings object for the API, the worker and the command line."""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Dev-only values: refused outside ENV=dev so that a forgotten variable never reaches production.
DEV_SESSION_KEY = "dev-session-key-not-secret"
DEV_CODEC_KEY = "dev:" + base64.b64encode(b"dev-codec-key-32-bytes-not-secret"[:32]).decode()
DEV_WEBHOOK_SECRET = "whsec_dev_not_secret"
DEV_STRIPE_KEY = "sk_test_dev_localstripe"
_PLACEHOLDERS = {DEV_SESSION_KEY, DEV_CODEC_KEY, DEV_WEBHOOK_SECRET, DEV_STRIPE_KEY, "change-me", ""}


class Settings(BaseSettings):
    """Runtime configuration, read from the environment (and `.env` if present)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["dev", "test", "staging", "production"] = "dev"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    data_dir: Path = Path("data")

    database_url: str = "sqlite:///data/ville.db"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None
    temporal_tls_cert_path: Path | None = None
    temporal_tls_key_path: Path | None = None
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "ville"

    stripe_api_key: SecretStr = SecretStr(DEV_STRIPE_KEY)
    stripe_publishable_key: str = "pk_test_dev_localstripe"
    stripe_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    # None means live Stripe; the embedded default points these at localstripe.
    stripe_api_base: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"

    aws_region: str = "eu-west-3"
    aws_endpoint_url: str | None = None
    s3_bucket: str = "ville-documents"
    ses_sender: str = "facilfamilles@paris.example"
    sqs_attendance_queue_url: str | None = None

    session_secret_keys: SecretStr = SecretStr(DEV_SESSION_KEY)
    codec_keys: SecretStr = SecretStr(DEV_CODEC_KEY)
    public_base_url: str = "http://127.0.0.1:8000"
    # reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses or networks); none by
    # default: the servers run with --no-proxy-headers and the app alone decides (api/app.py)
    trusted_proxies: str = ""

    # OpenID Connect sign-in (FranceConnect or the City's provider): off unless issuer, client id and secret are set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str | None = None  # default: <PUBLIC_BASE_URL>/auth/oidc/callback
    oidc_scopes: str = "openid email"
    # how a verified identity finds its account: "email" (the e-mail claim, then linked by subject) or
    # "subject" (only identities already linked in `oidc_identity`)
    oidc_account_match: Literal["email", "subject"] = "email"
    oidc_email_claim: str = "email"
    oidc_provider_name: str = "FranceConnect"

    billing_period_months: int = 2
    billing_batch_size: int = 500
    # processes rendering invoice PDFs beside the worker (0: render on the activity thread)
    pdf_render_processes: int = Field(default_factory=lambda: os.cpu_count() or 1)
    due_day_of_month: int = 25
    # non-urgent messages wait for each person's allowed hours (quiet hours, preferred windows; domain/rhythm)
    rhythm_delivery: bool = True
    metrics_port: int = 9464
    # loopback by default; containers set 0.0.0.0 so that Prometheus can scrape the worker's ports
    metrics_bind_host: str = "127.0.0.1"
    # threads of each API process for the sync routes and their dependencies (mostly SQL). More
    # threads wait on more I/O at once but fight over the GIL: Starlette's default of 40 served the invoice page
    # 30 % slower than 8 under 50 clients (docs/performance.md; PostgreSQL's network waits favour more)
    api_threads: int = Field(default=8, ge=1, le=200)
    otel_exporter_otlp_endpoint: str | None = None

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env in ("dev", "test"):
            return self
        for name in ("session_secret_keys", "codec_keys", "stripe_webhook_secret", "stripe_api_key"):
            value: SecretStr = getattr(self, name)
            if value.get_secret_value() in _PLACEHOLDERS:
                raise ValueError(f"{name.upper()} must be set to a real secret when ENV={self.env}")
        if self.oidc_enabled:
            if not (self.oidc_issuer or "").startswith("https://"):
                raise ValueError(f"OIDC_ISSUER must be an https:// URL when ENV={self.env}")
            if self.oidc_client_secret is None or self.oidc_client_secret.get_secret_value() in _PLACEHOLDERS:
                raise ValueError(f"OIDC_CLIENT_SECRET must be set to a real secret when ENV={self.env}")
        return self

    @property
    def oidc_enabled(self) -> bool:
        """True when an OpenID Connect provider is configured (issuer, client id and client secret)."""
        secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else ""
        return bool(self.oidc_issuer and self.oidc_client_id and secret)

    @property
    def oidc_callback_url(self) -> str:
        """The redirect URI registered at the provider."""
        return self.oidc_redirect_url or f"{self.public_base_url.rstrip('/')}/auth/oidc/callback"

    @property
    def session_keys(self) -> list[str]:
        """Signing keys, newest first: the first signs, all verify (rotation)."""
        return [k.strip() for k in self.session_secret_keys.get_secret_value().split(",") if k.strip()]


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
