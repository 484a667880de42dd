package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"
)

// Harbor's project name rule (src/pkg/project/manager.go).
var projectNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

var errConflict = errors.New("conflict")

type project struct {
	ID           int64
	Name         string
	Public       bool
	CreationTime time.Time
}

type robot struct {
	ID          int64
	Name        string // "robot$<project>+<name>"
	Description string
	Duration    int64 // days; -1 = never expires
	Secret      string
	Project     string
	Actions     map[string]bool // repository actions on Project: "pull", "push"
	Created     time.Time
}

// ExpiresAt is Harbor's expires_at: Unix seconds, or -1 for a robot that never expires.
func (rb *robot) ExpiresAt() int64 {
	if rb.Duration <= 0 {
		return -1
	}
	return rb.Created.Add(time.Duration(rb.Duration) * 24 * time.Hour).Unix()
}

// Who is asking: the admin, a robot, or nobody.
type principal struct {
	name  string
	admin bool
	robot *robot
}

func (p *principal) anonymous() bool { return p == nil }

type state struct {
	mu            sync.Mutex
	adminUser     string
	adminPassword string
	projects      map[string]*project
	robots        map[string]*robot
	nextID        int64
}

func newState(user, password string) *state {
	return &state{adminUser: user, adminPassword: password, projects: map[string]*project{},
		robots: map[string]*robot{}, nextID: 1}
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authenticate returns (nil, true) for an anonymous request, (p, true) for valid Basic
// credentials and (nil, false) for invalid ones.
func (s *state) authenticate(r *http.Request) (*principal, bool) {
	user, password, ok := r.BasicAuth()
	if !ok {
		return nil, r.Header.Get("Authorization") == ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if same(user, s.adminUser) && same(password, s.adminPassword) {
		return &principal{name: user, admin: true}, true
	}
	if rb, found := s.robots[user]; found && same(password, rb.Secret) {
		// Like Harbor, an expired robot is refused.
		if exp := rb.ExpiresAt(); exp >= 0 && time.Now().Unix() >= exp {
			return nil, false
		}
		return &principal{name: user, robot: rb}, true
	}
	return nil, false
}

func (s *state) createProject(name string, public bool) (*project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.projects[name]; exists {
		return nil, errConflict
	}
	p := &project{ID: s.nextID, Name: name, Public: public, CreationTime: time.Now().UTC()}
	s.nextID++
	s.projects[name] = p
	return p, nil
}

func (s *state) project(name string) *project {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projects[name]
}

func (s *state) projectByID(id int64) *project {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.projects {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *state) createRobot(projectName, name, description string, duration int64, actions map[string]bool) (*robot, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	full := "robot$" + projectName + "+" + name
	if _, exists := s.robots[full]; exists {
		return nil, errConflict
	}
	rb := &robot{ID: s.nextID, Name: full, Description: description, Duration: duration,
		Secret: hex.EncodeToString(secret), Project: projectName, Actions: actions, Created: time.Now().UTC()}
	s.nextID++
	s.robots[full] = rb
	return rb, nil
}

// projectRobots lists the robots of a project, oldest first, as Harbor's list orders by id.
func (s *state) projectRobots(projectName string) []*robot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*robot
	for _, rb := range s.robots {
		if rb.Project == projectName {
			out = append(out, rb)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// deleteRobot removes a robot by id; false when there is none. Its credentials stop working.
func (s *state) deleteRobot(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, rb := range s.robots {
		if rb.ID == id {
			delete(s.robots, name)
			return true
		}
	}
	return false
}

// allowed filters the asked repository actions down to what the principal may do, the way
// Harbor's token service does: nothing on a project that does not exist.
func (s *state) allowed(who *principal, repository string, asked []string) []string {
	projectName, _, hasSlash := cut(repository, "/")
	if !hasSlash {
		return nil
	}
	p := s.project(projectName)
	if p == nil {
		return nil
	}
	var out []string
	for _, a := range asked {
		ok := false
		switch {
		case who.anonymous():
			ok = a == "pull" && p.Public
		case who.admin:
			ok = a == "pull" || a == "push" || a == "delete" || a == "*"
		case who.robot != nil:
			ok = who.robot.Project == p.Name && who.robot.Actions[a]
		}
		if ok {
			out = append(out, a)
		}
	}
	return out
}
