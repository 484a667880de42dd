// A registry that serves the OCI 1.1 referrers API, for tests: CUE's ociregistry (the ociserver
// HTTP front over the ocimem store, which pass the OCI distribution-spec conformance suite,
// content discovery included). Neither zot nor CNCF distribution can stand in: the module proxy
// refuses zotregistry.dev/zot/v2, and distribution v3.1.2 has no referrers route.
//
// Content lives in memory and dies with the process. The wrapper adds what a test registry needs
// beyond that: a listen address, and optional HTTP Basic auth from an htpasswd file of bcrypt
// lines (what `htpasswd -B` writes), answering 401 with a Basic challenge like distribution does.
//
//	ociregistry -addr 127.0.0.1:5000 [-htpasswd FILE]
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelabs.dev/go/oci/ociregistry/ociserver"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "address to listen on")
	htpasswd := flag.String("htpasswd", "", "htpasswd file (bcrypt lines); empty: anonymous access")
	flag.Parse()
	if flag.NArg() != 0 {
		log.Fatalf("unexpected arguments: %v", flag.Args())
	}
	var handler http.Handler = ociserver.New(ocimem.New(), nil)
	if *htpasswd != "" {
		users, err := readHtpasswd(*htpasswd)
		if err != nil {
			log.Fatal(err)
		}
		handler = basicAuth(users, handler)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("ociregistry serving on %s", ln.Addr())
	srv := &http.Server{Handler: logRequests(handler), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

func readHtpasswd(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users := map[string][]byte{}
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(hash, "$2") {
			return nil, fmt.Errorf("%s:%d: not a bcrypt htpasswd line (user:$2y$...)", path, n)
		}
		users[user] = []byte(hash)
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, errors.New(path + ": no users")
	}
	return users, nil
}

func basicAuth(users map[string][]byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		hash, known := users[user]
		if ok && known && bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="sealift-test-ociregistry"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	})
}

// Logs every request that did not succeed (method, path, status): the log a failing test shows.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if rec.status >= 400 {
			log.Printf("%s %s -> %d", r.Method, r.URL.Path, rec.status)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
