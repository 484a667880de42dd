package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// signer holds the ES256 key whose certificate the registry trusts (rootcertbundle).
type signer struct {
	key   *ecdsa.PrivateKey
	keyID string
}

// newSigner loads the EC P-256 key (PEM, SEC1 or PKCS#8) whose certificate the registry has in
// its rootcertbundle.
func newSigner(keyFile string) (*signer, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", keyFile)
	}
	var key *ecdsa.PrivateKey
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = fmt.Errorf("%s: not an EC key", keyFile)
			}
		}
	default:
		err = fmt.Errorf("%s: unexpected PEM block %q", keyFile, block.Type)
	}
	if err != nil {
		return nil, err
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: ES256 needs a P-256 key", keyFile)
	}
	kid, err := libtrustKeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &signer{key: key, keyID: kid}, nil
}

// libtrustKeyID is docker/libtrust's key id, which distribution 2.8 (and Harbor's registry) use to
// find the token key among the rootcertbundle's keys: SHA-256 of the DER SubjectPublicKeyInfo,
// truncated to 240 bits, base32, in 12 colon-separated groups of 4.
func libtrustKeyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	s := strings.TrimRight(base32.StdEncoding.EncodeToString(sum[:30]), "=")
	groups := make([]string, 0, 12)
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, ":"), nil
}

type resourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *signer) sign(claims any) (string, error) {
	header, err := json.Marshal(map[string]string{"typ": "JWT", "alg": "ES256", "kid": s.keyID})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signingInput := b64url(header) + "." + b64url(body)
	digest := sha256.Sum256([]byte(signingInput))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	// JWS ES256: r and s as 32-byte big-endian integers, concatenated.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return signingInput + "." + b64url(sig), nil
}

type tokenHandler struct {
	state   *state
	signer  *signer
	issuer  string
	service string
	ttl     time.Duration
}

func cut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }

// parseScope splits "repository:proj/app:pull,push"; the name may itself hold colons
// ("repository:host:5000/x:pull"), so the actions follow the last one.
func parseScope(scope string) (typ, name string, actions []string, ok bool) {
	first := strings.Index(scope, ":")
	last := strings.LastIndex(scope, ":")
	if first < 0 || last == first {
		return "", "", nil, false
	}
	return scope[:first], scope[first+1 : last], strings.Split(scope[last+1:], ","), true
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use GET")
		return
	}
	who, valid := h.state.authenticate(r)
	if !valid {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid user name or password")
		return
	}
	q := r.URL.Query()
	if q.Get("service") != h.service {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("invalid service %q", q.Get("service")))
		return
	}
	access := []resourceActions{}
	for _, param := range q["scope"] {
		for _, scope := range strings.Fields(param) {
			typ, name, actions, ok := parseScope(scope)
			if !ok {
				writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("malformed scope %q", scope))
				return
			}
			granted := []string{}
			switch {
			case typ == "repository":
				granted = append(granted, h.state.allowed(who, name, actions)...)
			case typ == "registry" && name == "catalog" && who != nil && who.admin:
				granted = append(granted, "*")
			}
			access = append(access, resourceActions{Type: typ, Name: name, Actions: granted})
		}
	}
	subject := ""
	if who != nil {
		subject = who.name
	}
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	token, err := h.signer.sign(map[string]any{
		"iss": h.issuer, "sub": subject, "aud": h.service,
		"exp": now.Add(h.ttl).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(),
		"jti": b64url(jti), "access": access,
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	// Harbor's model (src/common/models/token.go), in its field order; access_token stays empty.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	writeJSONTo(w, struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}{token, "", int(h.ttl / time.Second), now.UTC().Format(time.RFC3339)})
}
