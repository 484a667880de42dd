# Registries for the demo and the benchmarks: the same docker-registry (distribution 2.8) as the
# tests' tests/env/registry.cc, on 127.0.0.1 and a free port, with its storage in a directory of
# your choice. Source this file, then:
#
#   start_registry DIR [--htpasswd] [--tls]
#       starts a registry with its storage in DIR/storage and sets REGISTRY_HOST=127.0.0.1:PORT.
#       Writes DIR/config.yml, DIR/host, DIR/registry.log and DIR/pids ("PID docker-registry").
#       Call it in the script's own shell, not inside $(...): the registry dies with its parent.
#       --htpasswd  Basic auth for $SEALIFT_REGISTRY_USER (default sealift) with the password in
#                   $SEALIFT_REGISTRY_PASSWORD, or a random one written to DIR/password (0600);
#                   DIR/docker/config.json (0600) holds the credentials for skopeo --authfile,
#                   helm --registry-config and DOCKER_CONFIG=DIR/docker.
#       --tls       HTTPS with a throwaway CA: DIR/tls/trust/ca.crt (a --cert-dir of its own).
#       With SEALIFT_REGISTRY_TOKEN_REALM and SEALIFT_REGISTRY_TOKEN_CERT set: token auth, as behind
#       Harbor (service harbor-registry, issuer harbor-token-issuer).
#   stop_all DIR
#       stops every process recorded in a "pids" file under DIR, by pid, the last started first.
#
# Every process started here also gets SIGKILL from the kernel when the calling shell dies
# (setpriv --pdeathsig), so even a killed script leaves no server behind.

_env_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _env_certificates DIR: a throwaway CA and a server certificate for 127.0.0.1 and localhost.
_env_certificates() {
  local d=$1
  mkdir -p "$d/trust"
  (umask 077
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout "$d/ca.key" \
     -out "$d/trust/ca.crt" -days 7 -subj "/CN=sealift demo CA" \
     -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout "$d/server.key" \
     -out "$d/server.csr" -subj /CN=127.0.0.1 2>/dev/null &&
   printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=critical,CA:FALSE' \
     'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >"$d/server.ext" &&
   openssl x509 -req -in "$d/server.csr" -CA "$d/trust/ca.crt" -CAkey "$d/ca.key" \
     -set_serial "0x$(openssl rand -hex 8)" -days 7 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null) &&
  rm -f "$d/server.csr" "$d/server.ext"
}

start_registry() {
  local dir=$1; shift
  local htpasswd=0 tls=0 a
  for a in "$@"; do
    case "$a" in
      --htpasswd) htpasswd=1 ;;
      --tls) tls=1 ;;
      *) echo "start_registry: unknown option $a" >&2; return 2 ;;
    esac
  done
  command -v docker-registry >/dev/null || { echo "start_registry: docker-registry missing; run scripts/setup.sh" >&2; return 1; }
  mkdir -p "$dir/storage" && dir=$(cd "$dir" && pwd)
  if [ -s "$dir/pids" ]; then echo "start_registry: $dir/pids exists; stop_all $dir first" >&2; return 1; fi

  local scheme=http curl_ca=()
  if [ "$tls" = 1 ]; then
    _env_certificates "$dir/tls" || { echo "start_registry: cannot make certificates in $dir/tls" >&2; return 1; }
    scheme=https curl_ca=(--cacert "$dir/tls/trust/ca.crt")
  fi
  if [ "$htpasswd" = 1 ]; then
    local user=${SEALIFT_REGISTRY_USER:-sealift} password=${SEALIFT_REGISTRY_PASSWORD:-}
    if [ -z "$password" ]; then
      password=$(openssl rand -hex 16)
      (umask 077; printf '%s\n' "$password" >"$dir/password")
    fi
    # -i: the password comes on stdin, never on a command line; -B: bcrypt, which 2.8 requires.
    (umask 077; printf '%s' "$password" | htpasswd -niB "$user" >"$dir/htpasswd") ||
      { echo "start_registry: htpasswd failed" >&2; return 1; }
  fi

  local attempt port pid
  for attempt in 1 2 3 4 5; do
    port=$(_env_free_port)
    {
      printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n'
      printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/storage"
      printf '  maintenance:\n    uploadpurging:\n      enabled: false\n'
      printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$port" "$(openssl rand -hex 24)"
      [ "$tls" = 1 ] && printf '  tls:\n    certificate: %s\n    key: %s\n' "$dir/tls/server.crt" "$dir/tls/server.key"
      [ "$htpasswd" = 1 ] && printf 'auth:\n  htpasswd:\n    realm: sealift-registry\n    path: %s\n' "$dir/htpasswd"
      # Token auth, as behind Harbor: SEALIFT_REGISTRY_TOKEN_REALM (the token service URL) and
      # SEALIFT_REGISTRY_TOKEN_CERT (the certificate whose key signs the tokens).
      [ -n "${SEALIFT_REGISTRY_TOKEN_REALM:-}" ] &&
        printf 'auth:\n  token:\n    realm: %s\n    service: harbor-registry\n    issuer: harbor-token-issuer\n    rootcertbundle: %s\n' \
          "$SEALIFT_REGISTRY_TOKEN_REALM" "$SEALIFT_REGISTRY_TOKEN_CERT"
    } >"$dir/config.yml"
    chmod 600 "$dir/config.yml"
    setpriv --pdeathsig KILL -- docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 &
    pid=$!
    echo "$pid docker-registry" >"$dir/pids"
    local deadline=$((SECONDS + 30)) code=000
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "${curl_ca[@]}" "$scheme://127.0.0.1:$port/v2/" || true)
      [ "$code" != 000 ] && break
      sleep 0.1
    done
    if [ "$code" != 000 ]; then
      echo "127.0.0.1:$port" >"$dir/host"
      if [ "$htpasswd" = 1 ]; then
        mkdir -p "$dir/docker"
        (umask 077; printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}\n' "$port" \
          "$(printf '%s:%s' "$user" "$password" | base64 -w0)" >"$dir/docker/config.json")
      fi
      REGISTRY_HOST=127.0.0.1:$port
      return 0
    fi
    # Dead (someone took the port first) or mute: stop it and try another port.
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    rm -f "$dir/pids"
  done
  echo "start_registry: docker-registry did not start; $dir/registry.log ends with:" >&2
  tail -n 20 "$dir/registry.log" >&2
  return 1
}

stop_all() {
  local dir=$1
  [ -d "$dir" ] || return 0
  local f pid name i
  while IFS= read -r f; do
    while read -r pid name; do
      # Only a process that still runs the program recorded for it: pids get reused.
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${name:0:15}" ] || continue
      kill "$pid" 2>/dev/null || continue
      for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done < <(tac "$f")
    rm -f "$f"
  done < <(find "$dir" -name pids -type f 2>/dev/null | sort -r)
}
