"""JWT bearer tokens verified against a JWKS (``DAGY_JWT_REQUIRED=true`` + ``DAGY_JWKS_URL``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagy.errors import AuthenticationError, ConfigError


@dataclass(frozen=True)
class JWTSettings:
    jwks_url: str
    audience: str | None = None
    issuer: str | None = None

    @classmethod
    def from_env(cls) -> JWTSettings | None:
        from dagy.config import settings

        if not settings.JWT_REQUIRED.get():
            return None
        url = settings.JWKS_URL.get()
        if not url:
            raise ConfigError(
                "DAGY_JWT_REQUIRED=true needs DAGY_JWKS_URL (the JWKS to verify with)"
            )
        return cls(
            url,
            settings.JWT_AUDIENCE.get(),
            settings.JWT_ISSUER.get(),
        )


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class JWTVerifier:
    """Checks signature (keys from the JWKS, cached), expiry, and audience/issuer when set."""

    def __init__(self, settings: JWTSettings) -> None:
        import jwt

        self.settings = settings
        self._jwt = jwt
        self._keys = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def claims(self, token: str) -> dict[str, Any]:
        jwt = self._jwt
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            return dict(  # noqa: C417
                jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"],
                    audience=self.settings.audience,
                    issuer=self.settings.issuer,
                    options={
                        "require": ["exp"],
                        "verify_aud": self.settings.audience is not None,
                    },
                )
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("Token expired") from None
        except jwt.PyJWKClientError as exc:
            raise AuthenticationError(f"Invalid token: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"Invalid token: {exc}") from None
