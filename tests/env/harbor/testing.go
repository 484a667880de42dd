package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoints under /_test/ are NOT part of Harbor: they let sealift's tests provoke what real
// networks do (redirects to other hosts, 429/503 with Retry-After, stalled and trickling transfers) on demand.
type testingHandler struct {
	mu    sync.Mutex
	calls map[string]int
}

func (h *testingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/_test/redirect":
		// 307 to ?to=, which may be another host.
		http.Redirect(w, r, q.Get("to"), http.StatusTemporaryRedirect)
	case "/_test/echo-auth":
		// Says whether an Authorization header arrived, never what it held.
		if r.Header.Get("Authorization") != "" {
			fmt.Fprint(w, "auth")
		} else {
			fmt.Fprint(w, "none")
		}
	case "/_test/flaky":
		// The first ?fail= requests with this ?id= get ?status= (and ?retry_after= seconds).
		fail, _ := strconv.Atoi(q.Get("fail"))
		status, _ := strconv.Atoi(q.Get("status"))
		h.mu.Lock()
		h.calls[q.Get("id")]++
		n := h.calls[q.Get("id")]
		h.mu.Unlock()
		if n <= fail {
			if ra := q.Get("retry_after"); ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			writeError(w, status, "TOOMANYREQUESTS", "slow down")
			return
		}
		fmt.Fprintf(w, "ok after %d", n)
	case "/_test/stall":
		// Headers and a few bytes, then nothing for a long time.
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "partial")
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(120 * time.Second):
		}
	case "/_test/trickle":
		// ?bytes= bytes every ?every_ms= milliseconds for up to a minute: a server that is slow but
		// never silent.
		n, _ := strconv.Atoi(q.Get("bytes"))
		every, _ := strconv.Atoi(q.Get("every_ms"))
		w.WriteHeader(http.StatusOK)
		deadline := time.After(60 * time.Second)
		for {
			fmt.Fprint(w, strings.Repeat("x", n))
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-deadline:
				return
			case <-time.After(time.Duration(every) * time.Millisecond):
			}
		}
	default:
		http.NotFound(w, r)
	}
}
