package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// harborRelease is the Harbor version this stand-in imitates; what it answers depends on it.
type harborRelease struct {
	text         string // as systeminfo spells it: "v2.15.2-080b0220"
	major, minor int
}

func parseRelease(text string) (harborRelease, error) {
	m := regexp.MustCompile(`^v(\d+)\.(\d+)\.\d+(-.*)?$`).FindStringSubmatch(text)
	if m == nil {
		return harborRelease{}, fmt.Errorf("%q is not a Harbor version such as v2.15.2-080b0220", text)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return harborRelease{text: text, major: major, minor: minor}, nil
}

func (v harborRelease) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}

// artifact is one manifest Harbor recorded when it was pushed.
type artifact struct {
	ID           int64
	Digest       string
	MediaType    string // the manifest's
	Size         int64
	ConfigType   string
	ArtifactType string // artifactType, else the config's media type: what Harbor types accessories by
	Subject      string
	Annotations  map[string]string
	LayerTypes   []string
	Children     []childArtifact
	Pushed       time.Time
}

type childArtifact struct {
	Digest   string
	OS, Arch string
}

// parseArtifact reads what Harbor records of a pushed manifest; nil when it is not JSON.
func parseArtifact(body []byte, contentType, digest string) *artifact {
	var m struct {
		MediaType    string `json:"mediaType"`
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			MediaType string `json:"mediaType"`
		} `json:"layers"`
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(body, &m); err != nil || digest == "" {
		return nil
	}
	a := &artifact{Digest: digest, MediaType: strings.TrimSpace(strings.Split(contentType, ";")[0]), Size: int64(len(body)),
		ConfigType: m.Config.MediaType, ArtifactType: m.ArtifactType, Annotations: m.Annotations, Pushed: time.Now().UTC()}
	if a.MediaType == "" {
		a.MediaType = m.MediaType
	}
	if a.ArtifactType == "" {
		a.ArtifactType = m.Config.MediaType
	}
	if m.Subject != nil {
		a.Subject = m.Subject.Digest
	}
	for _, l := range m.Layers {
		a.LayerTypes = append(a.LayerTypes, l.MediaType)
	}
	for _, c := range m.Manifests {
		a.Children = append(a.Children, childArtifact{Digest: c.Digest, OS: c.Platform.OS, Arch: c.Platform.Architecture})
	}
	return a
}

// artifactIndex is Harbor's database of artifacts, tags and accessories, per repository.
type artifactIndex struct {
	mu        sync.Mutex
	release   harborRelease
	nextID    int64
	artifacts map[string]map[string]*artifact // repository -> digest -> artifact
	tags      map[string]map[string]string    // repository -> tag -> digest
	legacySig map[string]map[string]string    // repository -> .sig manifest digest -> signed digest
}

func newArtifactIndex(release harborRelease) *artifactIndex {
	return &artifactIndex{release: release, nextID: 1, artifacts: map[string]map[string]*artifact{},
		tags: map[string]map[string]string{}, legacySig: map[string]map[string]string{}}
}

// cosign's legacy signature tag (src/server/middleware/cosign/cosign.go).
var sigTagRE = regexp.MustCompile(`^sha256-([a-f0-9]{64})\.sig$`)

const simpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"

func (x *artifactIndex) put(repository, reference string, a *artifact) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.artifacts[repository] == nil {
		x.artifacts[repository] = map[string]*artifact{}
		x.tags[repository] = map[string]string{}
		x.legacySig[repository] = map[string]string{}
	}
	if old := x.artifacts[repository][a.Digest]; old != nil {
		a.ID = old.ID
	} else {
		a.ID = x.nextID
		x.nextID++
	}
	x.artifacts[repository][a.Digest] = a
	if strings.HasPrefix(reference, "sha256:") {
		return
	}
	x.tags[repository][reference] = a.Digest
	if m := sigTagRE.FindStringSubmatch(reference); m != nil {
		for _, t := range a.LayerTypes {
			if t == simpleSigning {
				x.legacySig[repository][a.Digest] = "sha256:" + m[1]
			}
		}
	}
}

// referrers lists the manifests pushed into `repository` with `subject` as their subject.
func (x *artifactIndex) referrers(repository, subject string) []*artifact {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*artifact
	for _, a := range x.artifacts[repository] {
		if a.Subject == subject {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// accessoryType is how Harbor types an accessory pushed with a subject
// (src/server/middleware/subject/subject.go); the cosign kinds only from the release that knows
// them (wire-formats §13.5): a Sigstore bundle is a signature from 2.15 on (goharbor/harbor
// #22628), and a plain accessory before, which cosign content trust does not count (#22643).
func (x *artifactIndex) accessoryType(artifactType string) string {
	switch {
	case artifactType == "application/vnd.dev.cosign.artifact.sig.v1+json" && x.release.atLeast(2, 11):
		return "signature.cosign"
	case artifactType == "application/vnd.dev.sigstore.bundle.v0.3+json" && x.release.atLeast(2, 15):
		return "signature.cosign"
	case artifactType == "application/vnd.cncf.notary.signature":
		return "signature.notation"
	case artifactType == "application/vnd.goharbor.harbor.sbom.v1":
		return "sbom.harbor"
	}
	return "subject.accessory"
}

func artifactKind(a *artifact) string {
	switch {
	case a.ConfigType == "application/vnd.cncf.helm.config.v1+json":
		return "CHART"
	case len(a.Children) > 0, a.ConfigType == "application/vnd.oci.image.config.v1+json",
		a.ConfigType == "application/vnd.docker.container.image.v1+json":
		return "IMAGE"
	}
	return "UNKNOWN"
}

// list is GET /api/v2.0/projects/{p}/repositories/{r}/artifacts: the repository's artifacts that
// are neither an index's children nor accessories, newest first, with their tags, references
// and (with_accessory=true) accessories.
func (x *artifactIndex) list(repository string, withAccessory bool) []map[string]any {
	x.mu.Lock()
	defer x.mu.Unlock()
	all := x.artifacts[repository]
	child := map[string]bool{}
	accessories := map[string][]map[string]any{}
	for _, a := range all {
		for _, c := range a.Children {
			child[c.Digest] = true
		}
	}
	addAccessory := func(a *artifact, subject, typ string) {
		accessories[subject] = append(accessories[subject], map[string]any{
			"id": a.ID, "artifact_id": a.ID, "digest": a.Digest, "size": a.Size, "type": typ,
			"subject_artifact_digest": subject, "subject_artifact_repo": repository,
			"creation_time": a.Pushed.Format(time.RFC3339Nano),
		})
	}
	for _, a := range all {
		if subject, ok := x.legacySig[repository][a.Digest]; ok {
			addAccessory(a, subject, "signature.cosign")
		} else if a.Subject != "" {
			addAccessory(a, a.Subject, x.accessoryType(a.ArtifactType))
		}
	}
	var top []*artifact
	for _, a := range all {
		if _, sig := x.legacySig[repository][a.Digest]; !sig && a.Subject == "" && !child[a.Digest] {
			top = append(top, a)
		}
	}
	sort.Slice(top, func(i, j int) bool { return top[i].ID > top[j].ID })
	out := []map[string]any{}
	for _, a := range top {
		tags := []map[string]any{}
		for name, d := range x.tags[repository] {
			if d == a.Digest {
				tags = append(tags, map[string]any{"artifact_id": a.ID, "name": name, "immutable": false})
			}
		}
		sort.Slice(tags, func(i, j int) bool { return tags[i]["name"].(string) < tags[j]["name"].(string) })
		var refs []map[string]any
		for _, c := range a.Children {
			refs = append(refs, map[string]any{"parent_id": a.ID, "child_digest": c.Digest,
				"platform": map[string]any{"os": c.OS, "architecture": c.Arch}})
		}
		mediaType := a.ConfigType
		if mediaType == "" {
			mediaType = a.MediaType
		}
		item := map[string]any{
			"id": a.ID, "digest": a.Digest, "type": artifactKind(a), "media_type": mediaType,
			"manifest_media_type": a.MediaType, "size": a.Size, "repository_name": repository,
			"push_time": a.Pushed.Format(time.RFC3339Nano), "tags": tags, "references": refs,
		}
		if withAccessory {
			acc := accessories[a.Digest]
			sort.Slice(acc, func(i, j int) bool { return acc[i]["id"].(int64) < acc[j]["id"].(int64) })
			item["accessories"] = acc
		}
		out = append(out, item)
	}
	return out
}

// listArtifacts serves GET /api/v2.0/projects/{project}/repositories/{repository}/artifacts, the
// repository name double URL-encoded as Harbor's API wants it (wire-formats §13.1).
func (h *apiHandler) listArtifacts(w http.ResponseWriter, r *http.Request, escaped string) {
	projectName, rest, _ := strings.Cut(escaped, "/repositories/")
	repoName := strings.TrimSuffix(rest, "/artifacts")
	for i := 0; i < 2; i++ {
		var err error
		if repoName, err = url.PathUnescape(repoName); err != nil {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
			return
		}
	}
	if h.state.project(projectName) == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", projectName))
		return
	}
	items := h.index.list(projectName+"/"+repoName, r.URL.Query().Get("with_accessory") == "true")
	w.Header().Set("X-Total-Count", strconv.Itoa(len(items)))
	writeJSON(w, http.StatusOK, items)
}
