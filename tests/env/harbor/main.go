// sealift-harborlike stands in for Harbor in sealift's tests. A real Harbor cannot be built here
// (see shared/reference/test-peers.md §12), so this program fakes only Harbor's own parts and
// leaves the registry to a real docker-registry:
//
//   - GET /service/token: Harbor's token service (service "harbor-registry"), answering with
//     ES256 JWTs signed with -signing-key, whose certificate the real registry has as its
//     rootcertbundle and finds by libtrust key id (as Harbor and distribution 2.8 do). It grants push only on repositories whose first path segment is an
//     existing project the user may push to, pull on existing projects (anonymous: public ones).
//   - /api/v2.0/ping and /api/v2.0/systeminfo, answered to anyone as Harbor does (systeminfo's
//     protected fields, and from 2.13 on its version, only to a signed-in user): sealift-install's
//     test for "is this Harbor?".
//   - /api/v2.0: the few project and robot endpoints sealift calls, with the bodies and status
//     codes of Harbor's swagger (201 + Location, 409 CONFLICT, 401 without credentials, 403 for a
//     POST carrying Harbor's `sid` login cookie, as Harbor's CSRF middleware does), and the
//     artifact list with accessories.
//   - /v2/: Harbor's answers where they differ from distribution's (v2.go), the rest proxied to
//     the real registry, so one host serves everything, as Harbor's core does.
//
// What it answers is checked against the transcripts of a real Harbor 2.15.2
// (shared/reference/harbor-2.15-observed.md) by tests/harbor/standin_test.cc. -harbor-version
// makes it an older release where that changes an answer: no referrers API before 2.8,
// harbor_version in the anonymous systeminfo before 2.13, and Sigstore bundle referrers typed
// subject.accessory before 2.15.
//   - /_test/: not Harbor at all; network misbehaviour on demand for the client's tests.
//
// Usage:
//
//	sealift-harborlike -listen 127.0.0.1:PORT -signing-key token.key [-registry http://127.0.0.1:RPORT]
//	                   [-project NAME[:public]]... [-token-ttl 1800] [-tls-cert F -tls-key F]
//	                   [-harbor-version v2.15.2-080b0220]
//
// The admin credentials come from HARBOR_ADMIN_USER and HARBOR_ADMIN_PASSWORD (never argv).
// Every request is logged as one line "METHOD PATH STATUS", never with headers or bodies.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"
)

type projectFlags []string

func (p *projectFlags) String() string     { return strings.Join(*p, ",") }
func (p *projectFlags) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	keyFile := flag.String("signing-key", "", "the token signing key (EC P-256, PEM); its certificate is the registry's rootcertbundle")
	registry := flag.String("registry", "", "URL of the registry that /v2/ is proxied to")
	issuer := flag.String("issuer", "harbor-token-issuer", "token issuer")
	service := flag.String("service", "harbor-registry", "token service name (the JWT audience)")
	ttl := flag.Int("token-ttl", 1800, "token lifetime in seconds")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this certificate")
	tlsKey := flag.String("tls-key", "", "and this key")
	versionText := flag.String("harbor-version", defaultHarborVersion, "the Harbor release to answer as")
	var projects projectFlags
	flag.Var(&projects, "project", "a project that exists from the start: NAME or NAME:public (repeatable)")
	flag.Parse()

	user := os.Getenv("HARBOR_ADMIN_USER")
	password := os.Getenv("HARBOR_ADMIN_PASSWORD")
	if user == "" || password == "" || *keyFile == "" {
		log.Fatal("HARBOR_ADMIN_USER, HARBOR_ADMIN_PASSWORD and -signing-key are required")
	}
	release, err := parseRelease(*versionText)
	if err != nil {
		log.Fatalf("-harbor-version: %v", err)
	}
	signer, err := newSigner(*keyFile)
	if err != nil {
		log.Fatalf("signing key: %v", err)
	}
	st := newState(user, password)
	for _, p := range projects {
		name, public := strings.CutSuffix(p, ":public")
		if _, err := st.createProject(name, public); err != nil {
			log.Fatalf("project %q: %v", name, err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/service/token", &tokenHandler{state: st, signer: signer, issuer: *issuer, service: *service,
		ttl: time.Duration(*ttl) * time.Second})
	index := newArtifactIndex(release)
	externalURL := "http://" + *listen
	if *tlsCert != "" {
		externalURL = "https://" + *listen
	}
	mux.Handle("/api/v2.0/", &apiHandler{state: st, index: index, release: release, externalURL: externalURL})
	mux.Handle("/_test/", &testingHandler{calls: map[string]int{}})
	if *registry != "" {
		target, err := url.Parse(*registry)
		if err != nil {
			log.Fatalf("-registry: %v", err)
		}
		// The Host header is kept, so the registry's absolute Location URLs point back here.
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.FlushInterval = -1
		if *tlsCert != "" {
			// As Harbor's nginx does: the registry writes its Location URLs with this scheme.
			director := proxy.Director
			proxy.Director = func(r *http.Request) {
				director(r)
				r.Header.Set("X-Forwarded-Proto", "https")
			}
		}
		front := &registryFront{state: st, signer: signer, issuer: *issuer, service: *service, upstream: target,
			proxy: proxy, index: index, release: release, externalURL: externalURL}
		proxy.ModifyResponse = front.modifyResponse
		mux.Handle("/v2/", front)
	}

	srv := &http.Server{Addr: *listen, Handler: logRequests(mux), ReadHeaderTimeout: 30 * time.Second}
	fmt.Printf("sealift-harborlike serving on %s\n", *listen)
	if *tlsCert != "" {
		err = srv.ListenAndServeTLS(*tlsCert, *tlsKey)
	} else {
		err = srv.ListenAndServe()
	}
	log.Fatal(err)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		// The path only: query strings may carry upload state, never worth logging.
		fmt.Printf("%s %s %d\n", r.Method, r.URL.Path, rec.status)
	})
}
