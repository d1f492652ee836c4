#!/usr/bin/env bash
# make run: the whole stack on embedded defaults. Temporal dev server (Web UI on
# :8233, state in .data/temporal.db), worker, and API (SQLite in .data/astro.db, the
# simulated cloud). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${ASTRO_DATA_DIR:-.data} # another folder runs a second, separate stack (tests do)
TEMPORAL_PORT=${TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${TEMPORAL_UI_PORT:-8233}
export ASTRO_HTTP_ADDR=${ASTRO_HTTP_ADDR:-:8080}
export ASTRO_TEMPORAL_ADDRESS=${ASTRO_TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}
export ASTRO_DATABASE_URL=${ASTRO_DATABASE_URL:-sqlite://$DATA/astro.db}
export ASTRO_LOG_FORMAT=${ASTRO_LOG_FORMAT:-text}
export ASTRO_SIM_STEP_DELAY=${ASTRO_SIM_STEP_DELAY:-3s}

# ASTRO_AWS=moto: EKS clusters are made for real, through the AWS SDK, in moto (the AWS
# emulator, moto_server) behind bin/motoproxy (what moto lacks for EKS), in moto's
# account 123456789012; every other cloud stays simulated.
MOTO_PORT=${MOTO_PORT:-5000}
case "${ASTRO_AWS:-}" in
  "") ports_moto= ;;
  moto)
    ports_moto="$MOTO_PORT $((MOTO_PORT + 1))"
    if ! command -v moto_server >/dev/null; then
      echo "ASTRO_AWS=moto needs moto_server (pip install 'moto[server]')." >&2
      exit 1
    fi ;;
  *) echo "ASTRO_AWS=${ASTRO_AWS}: the only value is moto (unset: the simulated cloud)." >&2; exit 1 ;;
esac

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "${ASTRO_HTTP_ADDR##*:}" "${DEV_OIDC_PORT:-8081}" $ports_moto; do
  if port_busy "$p"; then
    echo "Port $p is already in use (another make run?). Stop it, or set TEMPORAL_PORT / TEMPORAL_UI_PORT / ASTRO_HTTP_ADDR / DEV_OIDC_PORT / MOTO_PORT." >&2
    exit 1
  fi
done
[ "${1:-}" = --check-ports ] && exit 0 # make run checks before building

mkdir -p "$DATA"

# A stable bootstrap key for this checkout, so every `make run` can print it. The API
# adopts it if the store has never seen it (a deleted key file, a store from
# elsewhere) and refuses to start if it was revoked: the printed key always works.
KEY_SOURCE="set by ASTRO_BOOTSTRAP_API_KEY"
if [ -z "${ASTRO_BOOTSTRAP_API_KEY:-}" ]; then
  # astro_ + 43 letters and digits: the earlier generator's shape, which the API checks
  # for length and alphabet (base64 with +/ dropped came out short, and the API refused
  # it as a checksummed key gone wrong; such a file, from an earlier make run, is replaced).
  old_key=$(cat "$DATA/bootstrap-api-key" 2>/dev/null || true)
  if [ -z "$old_key" ] || { [[ $old_key == astro_* ]] && [ ${#old_key} -ne 49 ] && [ ${#old_key} -ne 42 ]; }; then
    random=$(head -c 256 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    (umask 077; echo "astro_${random:0:43}" > "$DATA/bootstrap-api-key")
  fi
  ASTRO_BOOTSTRAP_API_KEY=$(cat "$DATA/bootstrap-api-key")
  KEY_SOURCE="kept in $DATA/bootstrap-api-key"
fi
export ASTRO_BOOTSTRAP_API_KEY
export ASTRO_BOOTSTRAP_ORG=${ASTRO_BOOTSTRAP_ORG:-default}

# Keys that seal integration secrets and sign approval links, made once per checkout.
secret() { # secret NAME: print .data/NAME, creating it with 32 random bytes first
  [ -s "$DATA/$1" ] || (umask 077; head -c 32 /dev/urandom | base64 > "$DATA/$1")
  cat "$DATA/$1"
}
export ASTRO_ENCRYPTION_KEY=${ASTRO_ENCRYPTION_KEY:-$(secret encryption-key)}
export ASTRO_APPROVAL_SIGNING_KEY=${ASTRO_APPROVAL_SIGNING_KEY:-$(secret signing-key)}
# Local webhook and SMTP sinks are on loopback; production leaves this empty.
export ASTRO_NOTIFY_ALLOWED_HOSTS=${ASTRO_NOTIFY_ALLOWED_HOSTS:-127.0.0.0/8,::1/128,localhost}
# Registered clusters (docs/registered-clusters.md): the agents' tunnel endpoint on
# loopback (its CA made once in $DATA/tunnel-ca); the worker reaches registered
# clusters through the API's internal proxy with a key made once per checkout.
export ASTRO_TUNNEL_ADDR=${ASTRO_TUNNEL_ADDR:-127.0.0.1:8443}
export ASTRO_TUNNEL_CA_DIR=${ASTRO_TUNNEL_CA_DIR:-$DATA/tunnel-ca}
[ -s "$DATA/agent-proxy-key" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DATA/agent-proxy-key")
export ASTRO_AGENT_PROXY_KEY=${ASTRO_AGENT_PROXY_KEY:-$(cat "$DATA/agent-proxy-key")}
export ASTRO_REPLICA_URL=${ASTRO_REPLICA_URL:-http://127.0.0.1:${ASTRO_HTTP_ADDR##*:}}
export ASTRO_API_INTERNAL_URL=${ASTRO_API_INTERNAL_URL:-$ASTRO_REPLICA_URL}
export ASTRO_PUBLIC_URL=${ASTRO_PUBLIC_URL:-http://localhost:${ASTRO_HTTP_ADDR##*:}}
# The development OIDC issuer: users sign in with no account anywhere (any user name,
# no password). Loopback only; the API refuses it with a non-loopback ASTRO_PUBLIC_URL
# or ASTRO_PRODUCTION=true. ASTRO_DEV_OIDC=false turns it off (ASTRO_OIDC_ISSUER for a real one).
if [ -z "${ASTRO_OIDC_ISSUER:-}" ]; then
  export ASTRO_DEV_OIDC=${ASTRO_DEV_OIDC:-true}
  export ASTRO_DEV_OIDC_ADDR=${ASTRO_DEV_OIDC_ADDR:-127.0.0.1:${DEV_OIDC_PORT:-8081}}
fi

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "Stopped."
  exit 0
}
trap stop INT TERM EXIT

if [ "${ASTRO_AWS:-}" = moto ]; then
  export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
  export AWS_REGION=${AWS_REGION:-us-east-1}
  export ASTRO_CLOUDS=${ASTRO_CLOUDS:-aws}
  export ASTRO_AWS_PLATFORM_PRINCIPAL=${ASTRO_AWS_PLATFORM_PRINCIPAL:-arn:aws:iam::123456789012:root}
  moto_server -H 127.0.0.1 -p $((MOTO_PORT + 1)) > "$DATA/moto.log" 2>&1 &
  pids+=($!)
  bin/motoproxy -listen "127.0.0.1:$MOTO_PORT" -moto "http://127.0.0.1:$((MOTO_PORT + 1))" >> "$DATA/moto.log" 2>&1 &
  pids+=($!)
fi

# The simulated cloud's Kubernetes (cmd/devkube): a real etcd and kube-apiserver on
# loopback (data in $DATA/kube), Argo CD's Application CRD, and a stand-in for Argo
# CD's controller whose Deployments run on a simulated node. Every simulated cluster
# is this one server, so applications deploy on them. ASTRO_SIM_KUBECONFIG set: your
# own cluster's kubeconfig instead (it needs Argo CD); ASTRO_DEVKUBE=false: neither.
DEVKUBE=
if [ -z "${ASTRO_SIM_KUBECONFIG:-}" ] && [ "${ASTRO_DEVKUBE:-true}" = true ]; then
  DEVKUBE=1
  export ASTRO_SIM_KUBECONFIG=$DATA/kube/kubeconfig
  rm -f "$ASTRO_SIM_KUBECONFIG" # a killed run's, naming a server gone
  bin/devkube -dir "$DATA/kube" -kubeconfig "$ASTRO_SIM_KUBECONFIG" > "$DATA/devkube.log" 2>&1 &
  pids+=($!)
fi

bin/temporal server start-dev \
  --db-filename "$DATA/temporal.db" --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
  --log-level warn --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
  --search-attribute AstroOrgID=Keyword --search-attribute AstroClusterName=Keyword \
  --search-attribute AstroOperationType=Keyword --search-attribute AstroProvider=Keyword \
  > "$DATA/temporal.log" 2>&1 &
pids+=($!)

wait_for() { # wait_for WHAT SECONDS COMMAND…: until COMMAND succeeds; gives up early if a process died
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "$what did not come up: a process exited (its error is above; logs in $DATA/)" >&2
        exit 1
      fi
    done
    sleep 0.1
  done
  echo "$what did not come up in ${secs}s; see $DATA/*.log" >&2
  exit 1
}
wait_for "Temporal dev server" 30 bin/temporal operator cluster health --address "$ASTRO_TEMPORAL_ADDRESS"
if [ "${ASTRO_AWS:-}" = moto ]; then
  wait_for "moto" 60 curl -fsS "$AWS_ENDPOINT_URL/moto-api/data.json"
fi

# One ASTRO_METRICS_ADDR for the stack: the API serves it, the worker the next port.
WORKER_METRICS_ADDR=
if [ -n "${ASTRO_METRICS_ADDR:-}" ]; then
  WORKER_METRICS_ADDR="${ASTRO_METRICS_ADDR%:*}:$(( ${ASTRO_METRICS_ADDR##*:} + 1 ))"
fi
ASTRO_METRICS_ADDR=$WORKER_METRICS_ADDR bin/worker 2> >(tee "$DATA/worker.log" >&2) &
pids+=($!)
bin/api 2> >(tee "$DATA/api.log" >&2) &
pids+=($!)
API_URL="http://localhost:${ASTRO_HTTP_ADDR##*:}"
wait_for "API" 30 curl -fsS "$API_URL/readyz"
# The worker reads the kubeconfig at each use: only the banner waits for devkube.
if [ -n "$DEVKUBE" ]; then
  wait_for "Kubernetes API (bin/devkube; log in $DATA/devkube.log, ASTRO_DEVKUBE=false to go without)" 120 test -s "$ASTRO_SIM_KUBECONFIG"
fi

cat <<BANNER

  Astro Plane is running.

    API            $API_URL   (health: $API_URL/readyz)
    Temporal UI    http://localhost:$TEMPORAL_UI_PORT
${ASTRO_SIM_KUBECONFIG:+    Kubernetes     $(sed -n 's/^ *server: //p' "$ASTRO_SIM_KUBECONFIG" | head -1)   (every simulated cluster; KUBECONFIG=$ASTRO_SIM_KUBECONFIG)
}${ASTRO_METRICS_ADDR:+    Metrics        http://$ASTRO_METRICS_ADDR/metrics (api), http://$WORKER_METRICS_ADDR/metrics (worker)
}    API key        $ASTRO_BOOTSTRAP_API_KEY
                   (admin of org "$ASTRO_BOOTSTRAP_ORG"; $KEY_SOURCE)

  Try:
    curl -s -H "X-Astro-API-Key: $ASTRO_BOOTSTRAP_API_KEY" $API_URL/api/v1/clusters
  Register a cluster of your own (agent tunnel on https://$ASTRO_TUNNEL_ADDR, agent bin/astro-agent):
    docs/registered-clusters.md
BANNER
if [ "${ASTRO_AWS:-}" = moto ]; then
  cat <<BANNER

  AWS is moto on $AWS_ENDPOINT_URL (account 123456789012; log in $DATA/moto.log): EKS
  clusters are made through the AWS SDK. Connect the account first (README, "Real clouds").
BANNER
fi
if [ "${ASTRO_DEV_OIDC:-false}" = true ]; then
  DEV_URL="http://localhost:${ASTRO_DEV_OIDC_ADDR##*:}"
  cat <<BANNER

  Sign in as a user (development OIDC issuer on $DEV_URL: any name, no password):
    TOKEN=\$(ASTRO_DEV_OIDC_URL=$DEV_URL scripts/dev-token.sh alice)     # alice@localhost; "admin" is admin@localhost
    curl -s -H "Authorization: Bearer \$TOKEN" $API_URL/api/v1/users/me
    curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"name":"alice-team"}' $API_URL/api/v1/orgs
  By hand (device flow, RFC 8628): curl -d client_id=astro-cli -d 'scope=openid email profile' $DEV_URL/device_authorization,
  then open $DEV_URL/device (or: curl -d user_code=CODE -d username=alice $DEV_URL/device),
  then curl -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code=… -d client_id=astro-cli $DEV_URL/oauth/token
BANNER
fi
cat <<BANNER

  Ctrl-C stops everything.

BANNER
wait -n "${pids[@]}" || true
echo "A process exited; stopping the rest." >&2
