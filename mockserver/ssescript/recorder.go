package ssescript

import (
	"net/http"
	"sync"
	"time"
)

// Recorder collects the stamps and the end of the requests served by the
// scripts it is attached to, and lets a test or scenario wait for the end
// without sleeping. Use one Recorder per expected request: Done closes at
// the first request's end, while stamps of any later request still append.
type Recorder struct {
	mu     sync.Mutex
	stamps []Stamp
	result Done
	once   sync.Once
	done   chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{done: make(chan struct{})} }

// Attach returns s with OnSent and OnDone feeding rec (any hooks already on
// s still run, first).
func (rec *Recorder) Attach(s Script) Script {
	prevSent, prevDone := s.OnSent, s.OnDone
	s.OnSent = func(st Stamp) {
		if prevSent != nil {
			prevSent(st)
		}
		rec.mu.Lock()
		rec.stamps = append(rec.stamps, st)
		rec.mu.Unlock()
	}
	s.OnDone = func(d Done) {
		if prevDone != nil {
			prevDone(d)
		}
		rec.once.Do(func() {
			rec.mu.Lock()
			rec.result = d
			rec.mu.Unlock()
			close(rec.done)
		})
	}
	return s
}

// Handler is Attach(s) as an http.Handler.
func (rec *Recorder) Handler(s Script) http.Handler { return rec.Attach(s) }

// Stamps returns a copy of the stamps so far.
func (rec *Recorder) Stamps() []Stamp {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Stamp(nil), rec.stamps...)
}

// Sent returns the send times in stamp order, the shape sseread.Buffered
// takes.
func (rec *Recorder) Sent() []time.Time {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make([]time.Time, len(rec.stamps))
	for i, st := range rec.stamps {
		out[i] = st.Sent
	}
	return out
}

// Done is closed when the first served request ends.
func (rec *Recorder) Done() <-chan struct{} { return rec.done }

// Result is how the first request ended (zero until Done is closed).
func (rec *Recorder) Result() Done {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.result
}

// Wait returns the result once Done closes, or false after timeout.
func (rec *Recorder) Wait(timeout time.Duration) (Done, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-rec.done:
		return rec.Result(), true
	case <-t.C:
		return Done{}, false
	}
}
