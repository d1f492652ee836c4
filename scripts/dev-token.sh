#!/usr/bin/env bash
# scripts/dev-token.sh [USER]: signs USER (default admin) in through the development
# OIDC issuer that `make run` starts, with the device authorization grant (RFC 8628),
# and prints the access token. It does what a person does with curl: ask for a
# device code, approve it on the issuer's /device page as USER, fetch the token.
# USER "admin" is the bootstrap admin (admin@localhost); any other name is a new user
# NAME@localhost with no organization until they create one or are added.
set -euo pipefail
USER_NAME=${1:-admin}
ISSUER=${ASTRO_DEV_OIDC_URL:-http://localhost:${ASTRO_DEV_OIDC_PORT:-8081}}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

auth=$(curl -fsS -d client_id=astro-cli -d 'scope=openid email profile' "$ISSUER/device_authorization")
device_code=$(field device_code <<<"$auth")
user_code=$(field user_code <<<"$auth")
curl -fsS -o /dev/null -d "user_code=$user_code" -d "username=$USER_NAME" "$ISSUER/device"
tok=$(curl -sS -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d "device_code=$device_code" \
  -d client_id=astro-cli "$ISSUER/oauth/token")
access=$(field access_token <<<"$tok")
if [ -z "$access" ]; then
  echo "no token from $ISSUER: $tok" >&2
  exit 1
fi
echo "$access"
