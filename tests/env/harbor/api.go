package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The /api/v2.0 endpoints sealift uses, shaped after goharbor/harbor api/v2.0/swagger.yaml.
type apiHandler struct {
	state       *state
	index       *artifactIndex
	release     harborRelease
	externalURL string // "http://127.0.0.1:PORT", as Harbor's configuration says
}

type harborError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSONTo(w io.Writer, v any) {
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	writeJSONTo(w, v)
}

// writeError writes Harbor's error body as its API does (lib/http.SendError: a charset, and the
// length even for HEAD, which gets no body).
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeV2Error(w, status, code, message)
}

func (h *apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get("X-Request-Id"); id != "" {
		w.Header().Set("X-Request-Id", id)
	}
	// Harbor's CSRF middleware exempts /api/ only for requests without its login cookie.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if _, err := r.Cookie("sid"); err == nil {
			writeError(w, http.StatusForbidden, "FORBIDDEN", "CSRF token invalid")
			return
		}
	}
	// Like Harbor, hand out a session cookie on every answer: a client that replays it (libcurl's
	// cookie engine) trips the CSRF check above on its next POST.
	sid := make([]byte, 16)
	_, _ = rand.Read(sid)
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: hex.EncodeToString(sid), Path: "/", HttpOnly: true})
	who, valid := h.state.authenticate(r)
	// Ping and system info answer anyone, as Harbor's do: a failed login there falls back to the
	// anonymous security context (src/server/middleware/security), it is not refused.
	if r.URL.Path == "/api/v2.0/ping" && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "Pong")
		return
	}
	if r.URL.Path == "/api/v2.0/systeminfo" && r.Method == http.MethodGet {
		h.systemInfo(w, r, valid && who != nil)
		return
	}
	if !valid || who == nil {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "UnAuthorized")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v2.0")
	switch {
	case path == "/projects" && r.Method == http.MethodHead:
		h.headProject(w, r)
	case path == "/projects" && r.Method == http.MethodPost:
		h.createProject(w, r, who)
	case strings.HasPrefix(path, "/projects/") && strings.HasSuffix(path, "/artifacts") && r.Method == http.MethodGet:
		h.listArtifacts(w, r, strings.TrimPrefix(r.URL.EscapedPath(), "/api/v2.0/projects/"))
	case strings.HasPrefix(path, "/projects/") && r.Method == http.MethodGet:
		h.getProject(w, r, strings.TrimPrefix(r.URL.EscapedPath(), "/api/v2.0/projects/"))
	case path == "/robots" && r.Method == http.MethodPost:
		h.createRobot(w, r, who)
	case path == "/robots" && r.Method == http.MethodGet:
		h.listRobots(w, r, who)
	case strings.HasPrefix(path, "/robots/") && r.Method == http.MethodDelete:
		h.deleteRobot(w, who, strings.TrimPrefix(path, "/robots/"))
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("%s %s is not served by this Harbor stand-in", r.Method, path))
	}
}

func (h *apiHandler) headProject(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("project_name")
	if name == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if h.state.project(name) == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", name))
		return
	}
	w.WriteHeader(http.StatusOK)
}

type projectReq struct {
	ProjectName  string            `json:"project_name"`
	Public       *bool             `json:"public"`
	Metadata     map[string]string `json:"metadata"`
	StorageLimit *int64            `json:"storage_limit"`
}

func decodeStrict(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (h *apiHandler) createProject(w http.ResponseWriter, r *http.Request, who *principal) {
	var req projectReq
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	if !who.admin {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	if len(req.ProjectName) > 255 || !projectNameRE.MatchString(req.ProjectName) {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("project name %q is invalid", req.ProjectName))
		return
	}
	public := false
	if req.Public != nil {
		public = *req.Public
	}
	if v, ok := req.Metadata["public"]; ok {
		// Metadata values are strings in Harbor's API, "true" or "false".
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("metadata.public must be \"true\" or \"false\", not %q", v))
			return
		}
		public = b
	}
	p, err := h.state.createProject(req.ProjectName, public)
	if err == errConflict {
		writeError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("The project named %s already exists", req.ProjectName))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	location := "/api/v2.0/projects/" + strconv.FormatInt(p.ID, 10)
	if r.Header.Get("X-Resource-Name-In-Location") == "true" {
		location = "/api/v2.0/projects/" + p.Name
	}
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusCreated)
}

func (h *apiHandler) getProject(w http.ResponseWriter, r *http.Request, nameOrID string) {
	nameOrID, err := url.PathUnescape(nameOrID)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	var p *project
	if id, err := strconv.ParseInt(nameOrID, 10, 64); err == nil && r.Header.Get("X-Is-Resource-Name") != "true" {
		p = h.state.projectByID(id)
	} else {
		p = h.state.project(nameOrID)
	}
	if p == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", nameOrID))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"project_id": p.ID, "name": p.Name, "creation_time": p.CreationTime.Format(time.RFC3339),
		"metadata": map[string]string{"public": strconv.FormatBool(p.Public)},
	})
}

type robotCreate struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Level       string `json:"level"`
	Duration    *int64 `json:"duration"`
	Disable     bool   `json:"disable"`
	Secret      string `json:"secret"`
	Permissions []struct {
		Kind      string `json:"kind"`
		Namespace string `json:"namespace"`
		Access    []struct {
			Resource string `json:"resource"`
			Action   string `json:"action"`
			Effect   string `json:"effect"`
		} `json:"access"`
	} `json:"permissions"`
}

func (h *apiHandler) createRobot(w http.ResponseWriter, r *http.Request, who *principal) {
	var req robotCreate
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	if !who.admin {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	if req.Name == "" || req.Level != "project" || len(req.Permissions) != 1 || req.Permissions[0].Kind != "project" ||
		req.Duration == nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST",
			"this stand-in takes project robots: a name, level \"project\", a duration and one permission of kind \"project\"")
		return
	}
	perm := req.Permissions[0]
	if h.state.project(perm.Namespace) == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", perm.Namespace))
		return
	}
	actions := map[string]bool{}
	for _, a := range perm.Access {
		if a.Resource != "repository" || (a.Action != "pull" && a.Action != "push") {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("unsupported access %s:%s", a.Resource, a.Action))
			return
		}
		actions[a.Action] = true
	}
	// Harbor: -1 never expires, a positive number of days; 0 and other negatives are refused.
	if *req.Duration == 0 || *req.Duration < -1 {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("duration %d is invalid", *req.Duration))
		return
	}
	rb, err := h.state.createRobot(perm.Namespace, req.Name, req.Description, *req.Duration, actions)
	if err == errConflict {
		writeError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("robot account robot$%s+%s already exists", perm.Namespace, req.Name))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Location", "/api/v2.0/robots/"+strconv.FormatInt(rb.ID, 10))
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": rb.ID, "name": rb.Name, "secret": rb.Secret,
		"creation_time": rb.Created.Format(time.RFC3339), "expires_at": rb.ExpiresAt(),
	})
}

// parseQuery reads Harbor's list query q: "key=value" pairs separated by commas (exact matches
// only; Harbor also has key=~value fuzzy matches, ranges and lists, which sealift does not send).
func parseQuery(q string) (map[string]string, error) {
	out := map[string]string{}
	if q == "" {
		return out, nil
	}
	for _, pair := range strings.Split(q, ",") {
		k, v, ok := cut(pair, "=")
		if !ok || k == "" || strings.HasPrefix(v, "~") || strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") ||
			strings.HasPrefix(v, "(") {
			return nil, fmt.Errorf("query %q: this stand-in takes key=value pairs only", q)
		}
		out[k] = v
	}
	return out, nil
}

// GET /api/v2.0/robots?q=Level=project,ProjectID=<id>&page=&page_size=: the Robot model, pages
// with X-Total-Count (and Link) as Harbor answers.
func (h *apiHandler) listRobots(w http.ResponseWriter, r *http.Request, who *principal) {
	if !who.admin {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	q, err := parseQuery(r.URL.Query().Get("q"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	for k := range q {
		if k != "Level" && k != "ProjectID" {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("query key %q is not supported here", k))
			return
		}
	}
	// This stand-in has project robots only; Harbor without a ProjectID lists system robots.
	if q["Level"] != "project" || q["ProjectID"] == "" {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "this stand-in lists project robots: q=Level=project,ProjectID=<id>")
		return
	}
	id, err := strconv.ParseInt(q["ProjectID"], 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("ProjectID %q is not a number", q["ProjectID"]))
		return
	}
	page, pageSize := int64(1), int64(10) // Harbor's defaults
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err = strconv.ParseInt(v, 10, 64); err != nil || page < 1 {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "page must be a positive number")
			return
		}
	}
	if v := r.URL.Query().Get("page_size"); v != "" {
		if pageSize, err = strconv.ParseInt(v, 10, 64); err != nil || pageSize < 1 || pageSize > 100 {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "page_size must be 1 to 100")
			return
		}
	}
	var robots []*robot
	if p := h.state.projectByID(id); p != nil {
		robots = h.state.projectRobots(p.Name)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(robots)))
	start := (page - 1) * pageSize
	if start > int64(len(robots)) {
		start = int64(len(robots))
	}
	end := start + pageSize
	if end > int64(len(robots)) {
		end = int64(len(robots))
	}
	items := []map[string]any{}
	for _, rb := range robots[start:end] {
		items = append(items, map[string]any{
			"id": rb.ID, "name": rb.Name, "description": rb.Description, "level": "project",
			"duration": rb.Duration, "expires_at": rb.ExpiresAt(), "disable": false, "editable": true,
			"creation_time": rb.Created.Format(time.RFC3339), "update_time": rb.Created.Format(time.RFC3339),
			"permissions": []map[string]any{{"kind": "project", "namespace": rb.Project}},
		})
	}
	writeJSON(w, http.StatusOK, items)
}

// DELETE /api/v2.0/robots/{id}: 200, or 404 when there is no such robot.
func (h *apiHandler) deleteRobot(w http.ResponseWriter, who *principal, idText string) {
	if !who.admin {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("robot id %q is not a number", idText))
		return
	}
	if !h.state.deleteRobot(id) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("robot %d not found", id))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Harbor's GeneralInfo (src/server/v2.0/handler/systeminfo.go: convertInfo), as the imitated
// release answers: to anyone auth_mode, banner_message, oidc_provider_name, primary_auth_mode and
// self_registration, and harbor_version too before 2.13 (goharbor/harbor #21672 took it away from
// anonymous callers); the protected fields, harbor_version among them, to a signed-in user.
func (h *apiHandler) systemInfo(w http.ResponseWriter, r *http.Request, authenticated bool) {
	info := map[string]any{
		"auth_mode":          "db_auth",
		"banner_message":     "",
		"oidc_provider_name": "",
		"primary_auth_mode":  false,
		"self_registration":  false,
	}
	if authenticated || !h.release.atLeast(2, 13) {
		info["harbor_version"] = h.release.text
	}
	if authenticated {
		info["current_time"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		info["external_url"] = h.externalURL
		info["has_ca_root"] = false
		info["notification_enable"] = true
		// This stand-in lets only the admin create projects.
		info["project_creation_restriction"] = "adminonly"
		info["read_only"] = false
		info["registry_storage_provider_name"] = "filesystem"
		info["registry_url"] = strings.SplitN(h.externalURL, "://", 2)[1]
	}
	writeJSON(w, http.StatusOK, info)
}

// The Harbor release this stand-in imitates unless -harbor-version says otherwise (the release
// of shared/reference/harbor-2.15-observed.md).
const defaultHarborVersion = "v2.15.2-080b0220"
