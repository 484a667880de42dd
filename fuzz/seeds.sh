#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus/<target>/ from real data: a real docker-registry
# holding fixture images (tests/env/fixtures), a small bundle from `sealift-bundle lock` and
# `build`, cosign v2.6.4 key files, crane's docker config, and the answers of a registry with
# token auth and of the Harbor stand-in (tests/env/harbor). The output is committed; run this
# only to refresh it (the seeds then change, as keys and bundles are made afresh).
#
#   fuzz/seeds.sh [BUILD]   BUILD: a build directory holding sealift-bundle, sealift-fixtures and
#                           sealift-harborlike (default build; `ninja -C build sealift-bundle
#                           sealift-fixtures sealift-harborlike`)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh

BUILD=${1:-build}
PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}
for p in sealift-bundle sealift-fixtures sealift-harborlike; do
  [ -x "$BUILD/$p" ] || { echo "seeds.sh: $BUILD/$p missing" >&2; exit 1; }
done
C=fuzz/corpus
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealift-seeds.XXXXXX")
trap 'stop_all "$WORK"; rm -rf "$WORK"' EXIT

# seed TARGET NAME: stdin becomes fuzz/corpus/TARGET/NAME.
seed() { mkdir -p "$C/$1"; cat >"$C/$1/$2"; }
for t in "$C"/*/; do [ -d "$t" ] && find "$t" -type f -delete; done

# --- Upstream registry with two fixture images: OCI (busybox) and Docker schema 2 (fluent-bit) ---
start_registry "$WORK/upstream"
UP=$REGISTRY_HOST
"$BUILD/sealift-fixtures" push --scale 0.0001 --only busybox,fluent-bit --registry "$UP" --plain-http \
  --json >"$WORK/fixtures.json"
ACCEPT='application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json'
ACCEPT="$ACCEPT,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"
get_manifest() { curl -sf -H "Accept: $ACCEPT" "http://$UP/v2/$1/manifests/$2"; }
get_manifest library/busybox 1.36 | seed manifest oci-index.json
get_manifest fluent/fluent-bit 3.1 | seed manifest docker-manifest-list.json
get_manifest library/busybox "$(jq -r '.images[] | select(.name=="busybox") | .manifests[0].digest' "$WORK/fixtures.json")" |
  seed manifest oci-manifest.json
get_manifest fluent/fluent-bit "$(jq -r '.images[] | select(.name=="fluent-bit") | .manifests[1].digest' "$WORK/fixtures.json")" |
  seed manifest docker-manifest.json

# Error bodies and upload Locations as docker-registry 2.8 sends them.
curl -s -H "Accept: $ACCEPT" "http://$UP/v2/library/busybox/manifests/no-such-tag" | seed remote_error manifest-unknown.json
curl -s -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data '{"schemaVersion":2}' \
  "http://$UP/v2/library/busybox/manifests/x" | seed remote_error manifest-invalid.json
curl -s -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data '{}' \
  "http://$UP/v2/Upper/manifests/x" | seed remote_error name-invalid.json
LOC=$(curl -s -X POST -D - -o /dev/null "http://$UP/v2/library/busybox/blobs/uploads/" | tr -d '\r' |
      sed -n 's/^Location: //Ip')
printf 'http://%s/v2/library/busybox/blobs/uploads/\n%s\nsha256:%064d' "$UP" "$LOC" 0 | seed url upload-location.txt
curl -s -X PUT "$LOC&digest=sha256:$(printf '%064d' 1)" | seed remote_error digest-invalid.json

# --- A chart of those two images, locked and built into a bundle ------------------------------
chart="$WORK/chart/seed-app"
mkdir -p "$chart/templates"
cat >"$chart/Chart.yaml" <<'EOF'
apiVersion: v2
name: seed-app
description: fuzz seeds
type: application
version: 0.1.0
annotations:
  sealift.dev/images: |
    - name: busybox
      image: docker.io/library/busybox:1.36
      component: tools
      valuesPaths: [busybox.image]
    - name: fluent-bit
      image: docker.io/fluent/fluent-bit:3.1
      component: logging
      valuesPaths: [fluentBit.image]
EOF
cat >"$chart/values.yaml" <<'EOF'
busybox:
  image: {registry: docker.io, repository: library/busybox, tag: "1.36", digest: ""}
fluentBit:
  image: {registry: docker.io, repository: fluent/fluent-bit, tag: "3.1", digest: ""}
EOF
cat >"$chart/templates/pods.yaml" <<'EOF'
{{- range $k, $v := .Values }}
---
apiVersion: v1
kind: Pod
metadata: {name: {{ $k | lower }}}
spec:
  containers:
    - name: main
      image: {{ $v.image.registry }}/{{ $v.image.repository }}:{{ $v.image.tag }}
{{- end }}
EOF
export COSIGN_PASSWORD=seed-password SOURCE_DATE_EPOCH=1700000000
MIRRORS=(--mirror "docker.io=$UP" --plain-http)
"$BUILD/sealift-bundle" keygen --dir "$WORK/vendor" >/dev/null
"$BUILD/sealift-bundle" lock --chart "$chart" --lock "$WORK/images.lock" "${MIRRORS[@]}" -q
"$BUILD/sealift-bundle" build --chart "$chart" --lock "$WORK/images.lock" --key "$WORK/vendor/cosign.key" \
  -o "$WORK/seed.tar.zst" --cache "$WORK/cache" "${MIRRORS[@]}" -q
seed image_lock seed-app.lock <"$WORK/images.lock"
seed image_lock ai-saas-dashboard.lock <images.lock
seed archive seed-app.tar.zst <"$WORK/seed.tar.zst"

# The bundle's parts: its entries, TOC, seek table and tar headers.
mkdir -p "$WORK/x" && zstd -dcq "$WORK/seed.tar.zst" | tar -x -C "$WORK/x"
seed bundle_root sealift.json <"$WORK/x/sealift.json"
for f in "$WORK"/x/*.sig; do [ -f "$f" ] && seed blob_signature "$(basename "$f")" <"$f"; done
seed manifest bundle-index.json <"$WORK/x/index.json"
n=0
for d in $(jq -r '.images[].signature, .chart.signature' "$WORK/x/sealift.json"); do
  sig="$WORK/x/blobs/sha256/${d#sha256:}"
  seed sigmanifest "sig-$n.json" <"$sig"
  payload=$(jq -r '.layers[0].digest' "$sig")
  seed payload "payload-$n.json" <"$WORK/x/blobs/sha256/${payload#sha256:}"
  n=$((n + 1))
done
n=0
for d in $(jq -r '.images[].sigstoreBundle, .chart.sigstoreBundle' "$WORK/x/sealift.json"); do
  ref="$WORK/x/blobs/sha256/${d#sha256:}"
  seed sigstore_bundle "referrer-$n.json" <"$ref"
  layer=$(jq -r '.layers[0].digest' "$ref")
  seed sigstore_bundle "bundle-$n.json" <"$WORK/x/blobs/sha256/${layer#sha256:}"
  n=$((n + 1))
done
jq -r '.images[].source' "$WORK/x/sealift.json" | while read -r r; do printf '%s' "$r" | seed reference "$(echo "$r" | tr '/:@' '___')"; done
python3 - "$WORK/seed.tar.zst" "$C" <<'EOF'
import json, os, struct, subprocess, sys
path, corpus = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
frames, desc, _ = struct.unpack('<IBI', data[-9:])
entry = 12 if desc & 0x80 else 8
table_size = 8 + entry * frames + 9
def seed(target, name, blob):
    os.makedirs(f'{corpus}/{target}', exist_ok=True)
    open(f'{corpus}/{target}/{name}', 'wb').write(blob)
seed('seek_table', 'seed-app.table', data[-table_size:])
table = data[-table_size + 8:-9]
sizes = [struct.unpack('<III' if entry == 12 else '<II', table[i:i + entry]) for i in range(0, len(table), entry)]
toc_at = sum(s[0] for s in sizes[:-1])
toc = data[toc_at + 8:toc_at + sizes[-1][0]]
tar_size = sum(s[1] for s in sizes)
seed('toc', 'seed-app.toc', f'{tar_size}\n'.encode() + toc)
tar = subprocess.run(['zstd', '-dcq', path], capture_output=True, check=True).stdout
for e in json.loads(toc)['entries'][:4]:
    header = tar[e['header']:e['offset']]
    seed('tar_header', e['name'].replace('/', '_'), f"{e['name']} {e['size']}\n".encode() + header)
    if e['name'] == 'sealift.json':
        # The same header with another mode and owner name, its checksum made valid: what the
        # reader refuses field by field rather than by parse.
        h = bytearray(header[:512])
        h[100:107], h[265:269], h[148:156] = b'0004755', b'root', b' ' * 8
        h[148:156] = b'%06o\0 ' % sum(h)
        seed('tar_header', 'sealift.json-mode-owner', f"{e['name']} {e['size']}\n".encode() + bytes(h))
EOF

# --- Keys: cosign v2.6.4 (both PEM labels, ECDSA and Ed25519) and what is inside them -----------
COSIGN="$PEERS/bin/cosign"
(cd "$WORK" && mkdir -p cosign && cd cosign && "$COSIGN" generate-key-pair >/dev/null 2>&1)
openssl genpkey -algorithm ed25519 -out "$WORK/ed25519.pem" 2>/dev/null
(cd "$WORK" && mkdir -p ed && cd ed && "$COSIGN" import-key-pair --key "$WORK/ed25519.pem" >/dev/null 2>&1)
"$BUILD/sealift-bundle" keygen --dir "$WORK/legacy" --legacy-format >/dev/null
seed private_key cosign-ecdsa.key <"$WORK/cosign/cosign.key"
seed private_key cosign-ed25519.key <"$WORK/ed/import-cosign.key"
seed private_key sealift-legacy.key <"$WORK/legacy/cosign.key"
seed public_key cosign-ecdsa.pub <"$WORK/cosign/cosign.pub"
seed public_key cosign-ed25519.pub <"$WORK/ed/import-cosign.pub"
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout | seed public_key rsa.pub
mkdir -p "$C/pem" && cp "$C"/private_key/* "$C"/public_key/* "$C/pem/"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER 2>/dev/null | seed private_key_der p256.pkcs8
openssl pkey -in "$WORK/ed25519.pem" -outform DER | seed private_key_der ed25519.pkcs8
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl ec -outform DER 2>/dev/null |
  seed private_key_der p256.sec1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -outform DER 2>/dev/null | seed private_key_der p384.pkcs8
# PKCS#8 v2 (RFC 5958) Ed25519, as sigstore-rs writes it: version 1 and a trailing [1] public key.
python3 - "$WORK/ed25519.pem" <<'EOF' | seed private_key_der ed25519-v2.pkcs8
import subprocess, sys
der = subprocess.run(['openssl', 'pkey', '-in', sys.argv[1], '-outform', 'DER'], capture_output=True, check=True).stdout
pub = subprocess.run(['openssl', 'pkey', '-in', sys.argv[1], '-pubout', '-outform', 'DER'], capture_output=True, check=True).stdout[-32:]
body = b'\x02\x01\x01' + der[5:] + b'\x81\x21\x00' + pub
sys.stdout.buffer.write(b'\x30' + bytes([len(body)]) + body)
EOF

# --- Auth: Basic and Bearer challenges, token service and Harbor API answers, docker config ------
export SEALIFT_REGISTRY_USER=seed SEALIFT_REGISTRY_PASSWORD=seed-registry-pw
start_registry "$WORK/basic" --htpasswd
curl -s -D - -o /dev/null "http://$REGISTRY_HOST/v2/" | tr -d '\r' | sed -n 's/^Www-Authenticate: //Ip' |
  seed challenge basic.txt
DOCKER_CONFIG="$WORK/docker" "$PEERS/bin/crane" auth login "$REGISTRY_HOST" -u seed --password-stdin \
  <<<"$SEALIFT_REGISTRY_PASSWORD" >/dev/null 2>&1
seed docker_config crane-login.json <"$WORK/docker/config.json"

mkdir -p "$WORK/harbor"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/harbor/token.key" 2>/dev/null
openssl req -x509 -new -key "$WORK/harbor/token.key" -subj /CN=harbor-token-signer -days 2 \
  -out "$WORK/harbor/token.crt" 2>/dev/null
HARBOR="127.0.0.1:$(_env_free_port)"
SEALIFT_REGISTRY_TOKEN_REALM="http://$HARBOR/service/token" SEALIFT_REGISTRY_TOKEN_CERT="$WORK/harbor/token.crt" \
  start_registry "$WORK/harbor/registry"
HARBOR_ADMIN_USER=admin HARBOR_ADMIN_PASSWORD=seed-harbor-pw setpriv --pdeathsig KILL "$BUILD/sealift-harborlike" \
  -listen "$HARBOR" -signing-key "$WORK/harbor/token.key" -registry "http://$REGISTRY_HOST" \
  >"$WORK/harbor/harborlike.log" 2>&1 &
echo "$! sealift-harborlike" >>"$WORK/harbor/pids"
for _ in $(seq 100); do curl -s -o /dev/null "http://$HARBOR/v2/" && break; sleep 0.1; done
curl -s -D - -o /dev/null "http://$REGISTRY_HOST/v2/" | tr -d '\r' | sed -n 's/^Www-Authenticate: //Ip' |
  seed challenge bearer.txt
curl -s -D - -o /dev/null "http://$REGISTRY_HOST/v2/proj/app/manifests/1.0" | tr -d '\r' |
  sed -n 's/^Www-Authenticate: //Ip' | seed challenge bearer-scope.txt
curl -s -D - -o /dev/null "http://$HARBOR/v2/" | tr -d '\r' | sed -n 's/^Www-Authenticate: //Ip' |
  seed challenge harbor.txt
curl -s -u admin:seed-harbor-pw "http://$HARBOR/service/token?service=harbor-registry&scope=repository:proj/app:pull,push" |
  seed token_response harbor-token.json
H=(-s -u admin:seed-harbor-pw -H 'Content-Type: application/json')
curl "${H[@]}" -X POST --data '{"project_name":"proj","metadata":{"public":"false"}}' "http://$HARBOR/api/v2.0/projects" >/dev/null
curl "${H[@]}" -X POST --data '{"project_name":"proj","metadata":{"public":"false"}}' "http://$HARBOR/api/v2.0/projects" |
  seed harbor project-conflict.json
ROBOT='{"name":"pull","description":"seed","level":"project","duration":-1,"disable":false,"permissions":[{"kind":"project","namespace":"proj","access":[{"resource":"repository","action":"pull"}]}]}'
curl "${H[@]}" -X POST --data "$ROBOT" "http://$HARBOR/api/v2.0/robots" | seed harbor robot-created.json
curl "${H[@]}" -X POST --data "$ROBOT" "http://$HARBOR/api/v2.0/robots" | seed harbor robot-conflict.json
curl -s -u admin:wrong "http://$HARBOR/api/v2.0/projects?project_name=proj" | seed harbor unauthorized.json
cp "$C"/harbor/*.json "$C/remote_error/"

# --- Small inputs of the remaining parsers, in the forms registries and users write them -------
printf 'linux/amd64' | seed platform amd64
printf 'linux/arm64/v8' | seed platform arm64-v8
printf 'windows/amd64' | seed platform windows
jq -r '.images[0].digest' "$WORK/x/sealift.json" | tr -d '\n' | seed digest index
printf 'postgres' | seed reference short
printf '127.0.0.1:5000/proj/app:1.0@sha256:%064d' 0 | seed reference host-port-digest
printf 'https://harbor.example.com/v2/proj/app/blobs/uploads/\n/v2/proj/app/blobs/uploads/u1?_state=abc\nsha256:0\n' |
  seed url relative-location
printf 'http://h:5000/v2/a/manifests/x\n//other:443/path?q\nv\n' | seed url network-path
printf 'https://h/v2/\nhttp://h/v2/a/../b/./c?x=1#frag\na b&c\n' | seed url dot-segments
printf '{"token":"t0k3n"}' | seed token_response token-only.json
printf '{"access_token":"t0k3n","expires_in":300,"scope":"repository:library/alpine:pull"}' | seed token_response hub.json
printf '{"auths":{"https://index.docker.io/v1/":{"auth":"%s"},"ghcr.io":{"username":"u","password":"p"}},"credsStore":"desktop"}' \
  "$(printf 'user:pass' | base64 -w0)" | seed docker_config hub-and-store.json
printf '{"auths":{"harbor.example.com":{}},"credHelpers":{"harbor.example.com":"ecr-login"}}' | seed docker_config helper.json
# Requests as crane, skopeo, helm and cosign send them to `sealift-install serve`, and hostile ones
# (method, path, Range header, blob size).
H=$(printf '%064d' 7)
printf 'GET\n/v2/\n\n0' | seed serve_route base
printf 'GET\n/v2/_catalog\n\n0' | seed serve_route catalog
printf 'GET\n/v2/ai-saas/library/postgres/tags/list\n\n0' | seed serve_route tags
printf 'HEAD\n/v2/ai-saas/library/postgres/manifests/16.4\n\n0' | seed serve_route manifest-tag
printf 'GET\n/v2/ai-saas/charts/ai-saas-dashboard/manifests/sha256:%s\n\n0' "$H" | seed serve_route manifest-digest
printf 'GET\n/v2/ai-saas/library/postgres/blobs/sha256:%s\nbytes=100-199\n1000' "$H" | seed serve_route blob-range
printf 'GET\n/v2/ai-saas/library/postgres/blobs/sha256:%s\nbytes=-10\n1000' "$H" | seed serve_route blob-suffix
printf 'GET\n/v2/ai-saas/library/postgres/blobs/sha256:%s\nbytes=18446744073709551615-\n1000' "$H" |
  seed serve_route blob-huge
printf 'GET\n/v2/ai-saas/fluent/fluent-bit/referrers/sha256:%s\n\n0' "$H" | seed serve_route referrers
printf 'GET\n/v2/ai-saas/../../etc/passwd/manifests/latest\n\n0' | seed serve_route traversal
printf 'PUT\n/v2/ai-saas/library/postgres/manifests/16.4\n\n0' | seed serve_route put
printf 'POST\n/v2/ai-saas/library/postgres/blobs/uploads/\n\n0' | seed serve_route upload
echo "seeds: $(find "$C" -type f | wc -l) files, $(du -sh "$C" | cut -f1) in $C"
