package simnode

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrNotFound is what a LogSource returns for a container it has no log of; the
// kubelet endpoint answers 404, which the API server passes on.
var ErrNotFound = errors.New("simnode: no log of that container")

// Container names one container of one pod.
type Container struct {
	Namespace, Pod, Name string
}

// Line is one log line, without its newline.
type Line struct {
	Time time.Time
	Text string
}

// LogSource holds the containers' logs a node serves. Implementations are safe for
// concurrent use.
type LogSource interface {
	// Log returns the lines container c has written so far (of its previous
	// instance when previous is set) and, for a client that follows, a channel of
	// the lines written after them, closed when ctx ends; next may be nil when
	// nothing more will come. It returns ErrNotFound for a container it knows
	// nothing of.
	Log(ctx context.Context, c Container, previous bool) (past []Line, next <-chan Line, err error)
}

// followBuffer is how many lines a follower may fall behind before further lines
// are dropped for it (a stalled reader does not stall writers).
const followBuffer = 1024

// MemoryLogs is a LogSource held in memory: Write appends a line to a container's
// log and hands it to the readers following it; Restart starts a new instance of
// a container (its log so far becomes the previous one). The zero value is ready.
type MemoryLogs struct {
	// Now is the clock lines are stamped with; default time.Now.
	Now func() time.Time

	mu   sync.Mutex
	logs map[Container]*memLog
}

type memLog struct {
	lines, previous []Line
	hadPrevious     bool
	followers       map[chan Line]struct{}
}

var _ LogSource = (*MemoryLogs)(nil)

func (m *MemoryLogs) entry(c Container) *memLog {
	if m.logs == nil {
		m.logs = map[Container]*memLog{}
	}
	l := m.logs[c]
	if l == nil {
		l = &memLog{followers: map[chan Line]struct{}{}}
		m.logs[c] = l
	}
	return l
}

// Write appends lines to container c's log.
func (m *MemoryLogs) Write(c Container, lines ...string) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.entry(c)
	for _, text := range lines {
		line := Line{Time: now(), Text: text}
		l.lines = append(l.lines, line)
		for ch := range l.followers {
			select {
			case ch <- line:
			default: // this follower is too far behind: the line is dropped for it
			}
		}
	}
}

// Restart makes container c's log so far its previous instance's, and starts an
// empty one; readers following the old instance reach its end.
func (m *MemoryLogs) Restart(c Container) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.entry(c)
	l.previous, l.lines, l.hadPrevious = l.lines, nil, true
	for ch := range l.followers {
		delete(l.followers, ch)
		close(ch)
	}
}

// Log implements LogSource. A container never written to is ErrNotFound; one
// without a previous instance is ErrNotFound for previous.
func (m *MemoryLogs) Log(ctx context.Context, c Container, previous bool) ([]Line, <-chan Line, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.logs[c]
	if l == nil || (previous && !l.hadPrevious) {
		return nil, nil, ErrNotFound
	}
	if previous {
		return append([]Line(nil), l.previous...), nil, nil
	}
	ch := make(chan Line, followBuffer)
	l.followers[ch] = struct{}{}
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := l.followers[ch]; ok {
			delete(l.followers, ch)
			close(ch)
		}
	}()
	return append([]Line(nil), l.lines...), ch, nil
}
