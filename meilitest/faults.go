package meilitest

import (
	"net/http"
	"time"
)

// requestFault answers matching requests with an error instead of serving them.
type requestFault struct {
	id     int
	match  func(*http.Request) bool
	status int
	code   string
}

// taskFault lets matching requests enqueue normally but fails their tasks.
type taskFault struct {
	id    int
	match func(*http.Request) bool
	code  string
}

// SetLatency delays every request by d before it is served (0 removes it).
func (s *Server) SetLatency(d time.Duration) {
	s.faultMu.Lock()
	s.latency = d
	s.faultMu.Unlock()
}

func (s *Server) currentLatency() time.Duration {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.latency
}

// FailRequests answers every request for which match returns true with the
// given HTTP status and a Meilisearch-shaped error carrying code. The
// returned func removes the fault. match must not read the request body.
func (s *Server) FailRequests(match func(*http.Request) bool, status int, code string) (clear func()) {
	s.faultMu.Lock()
	s.nextFaultID++
	f := &requestFault{id: s.nextFaultID, match: match, status: status, code: code}
	s.failures = append(s.failures, f)
	s.faultMu.Unlock()
	return func() {
		s.faultMu.Lock()
		defer s.faultMu.Unlock()
		for i, g := range s.failures {
			if g.id == f.id {
				s.failures = append(s.failures[:i:i], s.failures[i+1:]...)
				return
			}
		}
	}
}

func (s *Server) matchRequestFault(r *http.Request) *requestFault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range s.failures {
		if f.match == nil || f.match(r) {
			return f
		}
	}
	return nil
}

// FailTasks accepts matching requests normally (202 and a task) but makes
// the tasks they enqueue fail with code when processed. The returned func
// removes the fault; tasks already marked keep failing.
func (s *Server) FailTasks(match func(*http.Request) bool, code string) (clear func()) {
	s.faultMu.Lock()
	s.nextFaultID++
	f := &taskFault{id: s.nextFaultID, match: match, code: code}
	s.taskFaults = append(s.taskFaults, f)
	s.faultMu.Unlock()
	return func() {
		s.faultMu.Lock()
		defer s.faultMu.Unlock()
		for i, g := range s.taskFaults {
			if g.id == f.id {
				s.taskFaults = append(s.taskFaults[:i:i], s.taskFaults[i+1:]...)
				return
			}
		}
	}
}

// taskFaultFor returns the error code a task enqueued by r must fail with,
// or "".
func (s *Server) taskFaultFor(r *http.Request) string {
	if r == nil {
		return ""
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range s.taskFaults {
		if f.match == nil || f.match(r) {
			return f.code
		}
	}
	return ""
}

// PauseTasks holds every task in the enqueued state until ResumeTasks.
func (s *Server) PauseTasks() { s.tasks.setPaused(true) }

// ResumeTasks lets the task queue process again after PauseTasks.
func (s *Server) ResumeTasks() { s.tasks.setPaused(false) }
