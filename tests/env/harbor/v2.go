package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// registryFront answers /v2/ as Harbor's core does in front of its registry
// (shared/reference/harbor-2.15-observed.md; goharbor/harbor src/server/middleware/v2auth/auth.go,
// src/server/registry): Harbor's own 401s (the Bearer challenge to anonymous callers, an empty
// Www-Authenticate for a project that does not exist), Basic credentials taken directly, 404
// NOT_FOUND where distribution says NAME_UNKNOWN, MANIFEST_UNKNOWN or BLOB_UNKNOWN, the referrers
// API (Harbor >= 2.8) with OCI-Subject on manifest pushes, and the artifacts it records for the
// API's artifact list. Everything else goes to the real registry behind it.
type registryFront struct {
	state    *state
	signer   *signer
	issuer   string
	service  string
	upstream *url.URL
	proxy    *httputil.ReverseProxy
	index    *artifactIndex
	release  harborRelease
	// Harbor's configured external URL: its challenges name the token service there, whatever
	// name the client used (v2auth tokenSvcEndpoint).
	externalURL string
}

// v2Route is what a /v2/ path names.
type v2Route struct {
	base       bool   // /v2/
	repository string // "proj/library/alpine"; empty for /v2/ and /v2/_catalog
	kind       string // "tags", "manifests", "blobs", "uploads", "referrers"
	reference  string // tag or digest (manifests, blobs, referrers)
}

func parseV2(path string) v2Route {
	if path == "/v2" || path == "/v2/" {
		return v2Route{base: true}
	}
	rest := strings.TrimPrefix(path, "/v2/")
	if i := strings.Index(rest, "/blobs/uploads"); i > 0 {
		return v2Route{repository: rest[:i], kind: "uploads"}
	}
	if strings.HasSuffix(rest, "/tags/list") {
		return v2Route{repository: strings.TrimSuffix(rest, "/tags/list"), kind: "tags"}
	}
	for _, k := range []string{"manifests", "blobs", "referrers"} {
		if i := strings.LastIndex(rest, "/"+k+"/"); i > 0 {
			return v2Route{repository: rest[:i], kind: k, reference: rest[i+len(k)+2:]}
		}
	}
	return v2Route{}
}

func projectOf(repository string) string {
	p, _, _ := strings.Cut(repository, "/")
	return p
}

// writeV2Error writes Harbor's error body the way its registry middlewares do (lib/http.SendError).
func writeV2Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	body := v2ErrorBody(code, message)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func v2ErrorBody(code, message string) []byte {
	var b bytes.Buffer
	writeJSONTo(&b, map[string]any{"errors": []harborError{{Code: code, Message: message}}})
	return b.Bytes()
}

// challenge is Harbor's answer to an anonymous request that needs a login: a Bearer challenge
// naming its token service.
func (f *registryFront) challenge(w http.ResponseWriter, scope string) {
	c := fmt.Sprintf(`Bearer realm="%s/service/token",service="%s"`, f.externalURL, f.service)
	if scope != "" {
		c += fmt.Sprintf(`,scope="%s"`, scope)
	}
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.Header().Set("Www-Authenticate", c)
	writeV2Error(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized: unauthorized")
}

// basicRefused is Harbor's answer to a request that carried credentials it does not accept for
// the access asked: a Basic challenge (getChallenge with an Authorization header present).
func basicRefused(w http.ResponseWriter, message string) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.Header().Set("Www-Authenticate", `Basic realm="harbor"`)
	writeV2Error(w, http.StatusUnauthorized, "UNAUTHORIZED", message)
}

// actionsFor is what Harbor's v2auth asks of the caller for a request: pull to read, push to write.
func actionsFor(method string) []string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return []string{"pull"}
	case http.MethodDelete:
		return []string{"delete"}
	default:
		return []string{"pull", "push"}
	}
}

// mint makes a token for the registry behind, as Harbor's core does when it forwards a request it
// authorised itself.
func (f *registryFront) mint(access []resourceActions) (string, error) {
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	return f.signer.sign(map[string]any{
		"iss": f.issuer, "sub": "harbor-core", "aud": f.service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(),
		"jti": b64url(jti), "access": access,
	})
}

type manifestBodyKey struct{}

func (f *registryFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := parseV2(r.URL.Path)
	auth := r.Header.Get("Authorization")
	_, _, basic := r.BasicAuth()
	if rt.base {
		switch {
		case auth == "":
			f.challenge(w, "")
		case basic:
			if who, valid := f.state.authenticate(r); !valid || who == nil {
				basicRefused(w, "unauthorized: unauthorized")
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "{}")
		default:
			f.proxy.ServeHTTP(w, r)
		}
		return
	}
	if rt.repository == "" {
		f.proxy.ServeHTTP(w, r)
		return
	}
	// v2auth: an anonymous read is sent to the token service first (goharbor/harbor #11271).
	if auth == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		f.challenge(w, "repository:"+rt.repository+":pull")
		return
	}
	// Then the project: when it does not exist, no login can help, and Harbor says so with a 401
	// whose challenge is empty.
	if name := projectOf(rt.repository); f.state.project(name) == nil {
		msg := fmt.Sprintf("project %s not found", name)
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		w.Header()["Www-Authenticate"] = []string{""}
		writeV2Error(w, http.StatusUnauthorized, "UNAUTHORIZED", msg+": "+msg)
		return
	}
	if basic {
		who, valid := f.state.authenticate(r)
		if !valid {
			who = nil // Harbor falls back to the anonymous context
		}
		asked := actionsFor(r.Method)
		granted := f.state.allowed(who, rt.repository, asked)
		access := []resourceActions{{Type: "repository", Name: rt.repository, Actions: granted}}
		if len(granted) != len(asked) {
			basicRefused(w, fmt.Sprintf("unauthorized to access repository: %s, action: %s", rt.repository, asked[len(asked)-1]))
			return
		}
		if from := r.URL.Query().Get("from"); from != "" {
			access = append(access, resourceActions{Type: "repository", Name: from, Actions: f.state.allowed(who, from, []string{"pull"})})
		}
		token, err := f.mint(access)
		if err != nil {
			writeV2Error(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
		r.Header.Set("Authorization", "Bearer "+token)
	}
	// Harbor serves the referrers API from 2.8 on; before, the request reached its registry.
	if rt.kind == "referrers" && r.Method == http.MethodGet && f.release.atLeast(2, 8) {
		f.referrers(w, r, rt)
		return
	}
	if rt.kind == "manifests" && r.Method == http.MethodPut {
		// Kept to record the artifact once the registry has taken it.
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			writeV2Error(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r = r.WithContext(context.WithValue(r.Context(), manifestBodyKey{}, body))
	}
	f.proxy.ServeHTTP(w, r)
}

// modifyResponse turns the registry's answers into Harbor's: records pushed manifests (and says
// OCI-Subject for one with a subject), and rewrites distribution's "unknown" errors as NOT_FOUND.
func (f *registryFront) modifyResponse(resp *http.Response) error {
	req := resp.Request
	rt := parseV2(req.URL.Path)
	if rt.repository == "" {
		return nil
	}
	if rt.kind == "manifests" && req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated {
		body, _ := req.Context().Value(manifestBodyKey{}).([]byte)
		a := parseArtifact(body, req.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest"))
		if a != nil {
			f.index.put(rt.repository, rt.reference, a)
			if a.Subject != "" && f.release.atLeast(2, 8) {
				resp.Header.Set("OCI-Subject", a.Subject)
			}
		}
		return nil
	}
	if resp.StatusCode != http.StatusNotFound {
		return nil
	}
	var message string
	switch rt.kind {
	case "tags":
		message = fmt.Sprintf("repository %s not found", rt.repository)
	case "manifests":
		message = fmt.Sprintf("repository %s not found", rt.repository)
		if f.repositoryExists(rt.repository) {
			sep := ":"
			if strings.HasPrefix(rt.reference, "sha256:") {
				sep = "@"
			}
			message = fmt.Sprintf("artifact %s%s%s not found", rt.repository, sep, rt.reference)
		}
	case "blobs":
		message = fmt.Sprintf("blob %s not found", rt.reference)
	default:
		return nil
	}
	body := v2ErrorBody("NOT_FOUND", message)
	_ = resp.Body.Close()
	resp.Header = http.Header{}
	resp.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.ContentLength = int64(len(body))
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	} else {
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return nil
}

// repositoryExists asks the registry itself, as Harbor asks its database.
func (f *registryFront) repositoryExists(repository string) bool {
	token, err := f.mint([]resourceActions{{Type: "repository", Name: repository, Actions: []string{"pull"}}})
	if err != nil {
		return false
	}
	req, err := http.NewRequest(http.MethodGet, f.upstream.String()+"/v2/"+repository+"/tags/list", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// referrers answers GET /v2/<name>/referrers/<digest> from the manifests pushed with that subject
// (src/server/registry/referrers.go): 200 with an image index, empty for an unknown subject,
// X-Total-Count, and the artifactType filter.
func (f *registryFront) referrers(w http.ResponseWriter, r *http.Request, rt v2Route) {
	filter := r.URL.Query().Get("artifactType")
	index := ociIndexBody{SchemaVersion: 2, MediaType: ociIndex, Manifests: []ociDescriptor{}}
	for _, a := range f.index.referrers(rt.repository, rt.reference) {
		if filter != "" && a.ArtifactType != filter {
			continue
		}
		index.Manifests = append(index.Manifests, ociDescriptor{MediaType: a.MediaType, Digest: a.Digest, Size: a.Size,
			ArtifactType: a.ArtifactType, Annotations: a.Annotations})
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	var b bytes.Buffer
	writeJSONTo(&b, index)
	w.Header().Set("Content-Type", ociIndex)
	w.Header().Set("X-Total-Count", strconv.Itoa(len(index.Manifests)))
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

const ociIndex = "application/vnd.oci.image.index.v1+json"

// The image index of a referrers answer, fields in the order Harbor writes them.
type ociIndexBody struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}
