package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// streamStepDelay is how long each simulated call of (d) takes: long enough that the
// operations stay in flight through the window; the simulated cloud reports each
// call's progress once a second.
const streamStepDelay = 10 * time.Second

// streamResults are (d)'s figures: the delay of each change an open progress stream
// received (its arrival minus when the change happened: a provider report's time,
// lastHeartbeatAt, or a step's startedAt or endedAt), during the window.
type streamResults struct {
	Streams       int     `json:"streams"`
	WindowSeconds float64 `json:"windowSeconds"`
	StepDelayS    float64 `json:"stepDelaySeconds"`
	// All is every change, a step's start or end timed from the step's own time
	// (workflow.Now in the workflow task that made the change: the task's start);
	// AllRecorded the same with steps timed from when Temporal recorded the task
	// (its WorkflowTaskCompleted event), when the change became visible to anyone.
	All           delays `json:"all"`
	AllRecorded   delays `json:"allStepsFromRecord"`
	Heartbeats    delays `json:"heartbeats"`
	Steps         delays `json:"steps"`
	StepsRecorded delays `json:"stepsFromRecord"`
	// Unmatched counts step changes whose workflow task was not found in history.
	Unmatched int `json:"unmatched"`
	// Reported counts the provider reports in the store's feed made in the window;
	// Received, the distinct ones the streams received (each stream is on its own
	// operation); Missed, those reported but never received.
	Reported int `json:"reported"`
	Received int `json:"received"`
	Missed   int `json:"missed"`
	// What the worker's feed writer did over the whole run.
	Feed activities.ProgressFeedStats `json:"feedWriter"`
	// Errors counts streams that ended with an error or failed to open.
	Errors int `json:"errors"`
}

// delays summarises delivery delays.
type delays struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50Ms"`
	P99ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`
}

func summariseDelays(d []time.Duration) delays {
	if len(d) == 0 {
		return delays{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return delays{N: len(d), P50ms: ms(d[len(d)/2]), P99ms: ms(d[min(len(d)-1, int(0.99*float64(len(d))))]), MaxMs: ms(d[len(d)-1])}
}

// (d) streams: cfg.streams operations in flight on an in-process worker writing the
// progress feed, one progress stream open on each, for cfg.streamWindow.
func (b *storeBench) streams(ctx context.Context) error {
	n := b.cfg.streams
	dev, _, err := startDevServer(ctx, b.cfg.temporalCLI, b.cfg.runScript, filepath.Join(b.dir, "temporal-d"))
	if err != nil {
		return err
	}
	defer dev.stop()
	pd, closeD, err := b.newPlane(ctx, dev.tc, "bench-d")
	if err != nil {
		return err
	}
	defer closeD()
	feed := activities.NewProgressFeed(pd.st, nil)
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); feed.Run(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()
	w := worker.New(dev.tc, "bench-d", worker.Options{MaxConcurrentActivityExecutionSize: n + 50,
		BackgroundActivityContext: activities.WithProgressFeed(context.Background(), feed)})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: pd.st, Clouds: sim.Registry(sim.New(streamStepDelay)), PollInterval: streamStepDelay / 4},
		Notifier: &activities.Notifier{Store: pd.st},
	})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	// The default cap is 50 streams per key: the streams use a key per 50.
	keys, err := streamKeys(ctx, pd, (n+49)/50)
	if err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "[%s] (d) %d operations in flight with a progress stream open on each, %s window…\n", b.kind, n, b.cfg.streamWindow)
	ops := make([]string, n)
	if _, err := measure(n, 16, func(i int) error {
		var err error
		// Each in its own account: the cloud registry paces calls per account.
		ops[i], err = pd.deployIn(ctx, fmt.Sprintf("d-%d", i), fmt.Sprintf("%012d", 200000000000+i))
		return err
	}); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := "ws" + strings.TrimPrefix(pd.url, "http")
	rec := &streamRecorder{heartbeats: map[string]map[int64]bool{}}
	var wg sync.WaitGroup
	opened := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			url := fmt.Sprintf("%s/api/v1/clusters/d-%d/progress/stream?operationId=%s", base, i, ops[i])
			rec.follow(sctx, url, keys[i/50], ops[i], opened)
		})
	}
	for range n {
		if err := <-opened; err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("open stream: %w", err)
		}
	}
	start := time.Now()
	rec.window(start, start.Add(b.cfg.streamWindow))
	select {
	case <-time.After(b.cfg.streamWindow):
	case <-ctx.Done():
		return ctx.Err()
	}
	end := time.Now()
	time.Sleep(time.Second) // what happened at the end of the window still arrives
	cancel()
	wg.Wait()

	reported, err := reportsBetween(ctx, pd.st, start, end)
	if err != nil {
		return err
	}
	r := &b.res.Streams
	r.Streams, r.WindowSeconds, r.StepDelayS = n, end.Sub(start).Seconds(), streamStepDelay.Seconds()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	recorded, err := taskCompletions(ctx, dev.tc, rec.steps)
	if err != nil {
		return err
	}
	var fromStep, fromRecord []time.Duration
	for _, st := range rec.steps {
		fromStep = append(fromStep, max(0, st.got.Sub(st.at)))
		if done, ok := recorded[st.op][st.at.UnixNano()]; ok {
			fromRecord = append(fromRecord, max(0, st.got.Sub(done)))
		} else {
			r.Unmatched++
		}
	}
	r.Heartbeats, r.Steps, r.StepsRecorded = summariseDelays(rec.beatDelays), summariseDelays(fromStep), summariseDelays(fromRecord)
	r.All = summariseDelays(append(slices.Clone(rec.beatDelays), fromStep...))
	r.AllRecorded = summariseDelays(append(slices.Clone(rec.beatDelays), fromRecord...))
	r.Reported, r.Errors = len(reported), rec.errors
	for _, rep := range reported {
		if rec.heartbeats[rep.OperationID][rep.At.UnixNano()] {
			r.Received++
		}
	}
	r.Missed = r.Reported - r.Received
	r.Feed = feed.Stats()
	return nil
}

// streamKeys makes k API keys of the plane's bootstrap admin.
func streamKeys(ctx context.Context, p *plane, k int) ([]string, error) {
	owner, err := p.st.LookupAPIKey(ctx, apikey.Hash(p.key))
	if err != nil {
		return nil, err
	}
	keys := make([]string, k)
	for i := range keys {
		keys[i] = apikey.Generate()
		if err := p.st.CreateAPIKey(ctx, &store.APIKey{ID: store.NewID(), OrgID: owner.Key.OrgID, UserID: owner.Key.UserID,
			Source: "cli", Name: fmt.Sprintf("bench-d-%d", i), Hash: apikey.Hash(keys[i])}); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// reportsBetween returns the feed's reports made in [from, to).
func reportsBetween(ctx context.Context, st *store.Store, from, to time.Time) ([]store.ProgressReport, error) {
	var out []store.ProgressReport
	var after uint64
	for {
		page, err := st.ProgressReportsAfter(ctx, after, 5000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, r := range page {
			if !r.At.Before(from) && r.At.Before(to) {
				out = append(out, r)
			}
		}
		after = page[len(page)-1].ID
	}
}

// stepArrival is a step's start or end as a stream received it: the step's time
// (the workflow's clock in the task that made the change) and the arrival.
type stepArrival struct {
	op      string
	at, got time.Time
}

// streamRecorder collects what the streams receive.
type streamRecorder struct {
	mu         sync.Mutex
	from, to   time.Time
	beatDelays []time.Duration
	steps      []stepArrival
	heartbeats map[string]map[int64]bool // operation → report times received (Unix ns)
	errors     int
}

// failed counts a stream that ended with an error, printing the first few.
func (r *streamRecorder) failed(op, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors++
	if r.errors <= 5 {
		fmt.Fprintf(os.Stderr, "  stream of %s ended: %s\n", op, msg)
	}
}

func (r *streamRecorder) window(from, to time.Time) {
	r.mu.Lock()
	r.from, r.to = from, to
	r.mu.Unlock()
}

type benchEvent struct {
	Type     string `json:"type"`
	Error    string `json:"error"`
	Progress struct {
		Steps []struct {
			Name      string     `json:"name"`
			Status    string     `json:"status"`
			StartedAt *time.Time `json:"startedAt"`
			EndedAt   *time.Time `json:"endedAt"`
			Detail    struct {
				LastHeartbeatAt *time.Time `json:"lastHeartbeatAt"`
			} `json:"detail"`
		} `json:"steps"`
	} `json:"progress"`
}

// follow reads one stream until ctx ends or the operation does, recording the
// delay of every change it brings (a new heartbeat time on the running step, a
// step's start or end appearing) that happened in the window.
func (r *streamRecorder) follow(ctx context.Context, url, key, op string, opened chan<- error) {
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Astro-API-Key": {key}}})
	if err != nil {
		opened <- err
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	first := true
	seen := map[string]bool{} // "start:<step>", "end:<step>", "beat:<time>"
	for {
		var ev benchEvent
		err := wsjson.Read(ctx, conn, &ev)
		got := time.Now()
		if first {
			opened <- err
			first = false
		}
		if err != nil {
			var ce websocket.CloseError
			if ctx.Err() == nil && !(errors.As(err, &ce) && ce.Code == websocket.StatusNormalClosure) {
				r.failed(op, err.Error())
			}
			return
		}
		if ev.Type == "error" {
			r.failed(op, ev.Error)
			return
		}
		r.mu.Lock()
		inWindow := func(t time.Time) bool { return !r.from.IsZero() && !t.Before(r.from) && t.Before(r.to) }
		for _, s := range ev.Progress.Steps {
			if t := s.StartedAt; t != nil && !seen["start:"+s.Name] {
				seen["start:"+s.Name] = true
				if inWindow(*t) {
					r.steps = append(r.steps, stepArrival{op: op, at: *t, got: got})
				}
			}
			if t := s.EndedAt; t != nil && !seen["end:"+s.Name] {
				seen["end:"+s.Name] = true
				if inWindow(*t) {
					r.steps = append(r.steps, stepArrival{op: op, at: *t, got: got})
				}
			}
			if t := s.Detail.LastHeartbeatAt; s.Status == "RUNNING" && t != nil && !seen["beat:"+t.String()] {
				seen["beat:"+t.String()] = true
				if inWindow(*t) {
					r.beatDelays = append(r.beatDelays, max(0, got.Sub(*t)))
					if r.heartbeats[op] == nil {
						r.heartbeats[op] = map[int64]bool{}
					}
					r.heartbeats[op][t.UnixNano()] = true
				}
			}
		}
		r.mu.Unlock()
		if ev.Type == "completed" {
			return
		}
	}
}

// streamTarget is issue 11's bound on the streams' delivery delay, p99.
const streamTarget = 100 * time.Millisecond

// streamTable writes (d)'s part of the report.
func streamTable(w io.Writer, d streamResults) {
	fmt.Fprintf(w, "\n(d) %d progress streams, one per operation in flight (simulated calls of %.0f s reporting every second), "+
		"%.0f s window: delay from a change to its arrival on the stream. A step's change is timed from the step's "+
		"own time (the start of the workflow task that made it) and, \"from their record\", from when Temporal recorded that task "+
		"completed (when anyone can first see the change)\n\n", d.Streams, d.StepDelayS, d.WindowSeconds)
	fmt.Fprintln(w, "| delivered changes                            |     N | p50 ms | p99 ms | max ms | target p99 |")
	fmt.Fprintln(w, "|----------------------------------------------|------:|-------:|-------:|-------:|------------|")
	for _, row := range []struct {
		name, target string
		d            delays
	}{
		{"(d) every change", fmt.Sprintf("≤ %d ms", streamTarget.Milliseconds()), d.All},
		{"(d) every change, steps from their record", fmt.Sprintf("≤ %d ms", streamTarget.Milliseconds()), d.AllRecorded},
		{"(d) heartbeat details (provider reports)", "", d.Heartbeats},
		{"(d) step starts and ends", "", d.Steps},
		{"(d) step starts and ends, from their record", "", d.StepsRecorded},
	} {
		fmt.Fprintf(w, "| %-44s | %5d | %6.1f | %6.1f | %6.1f | %-10s |\n", row.name, row.d.N, row.d.P50ms, row.d.P99ms, row.d.MaxMs, row.target)
	}
	fmt.Fprintf(w, "\n(d) provider reports in the window: %d, received %d, missed %d; feed writer: %d published, %d written, "+
		"%d coalesced, %d dropped, %d failed; streams ended by an error: %d; step changes without their task in history: %d\n",
		d.Reported, d.Received, d.Missed, d.Feed.Published, d.Feed.Written, d.Feed.Coalesced, d.Feed.Dropped, d.Feed.Failed, d.Errors, d.Unmatched)
}

// taskCompletions maps, for each operation of steps, the start time of each of its
// workflow tasks (what workflow.Now said in it) to when that task was recorded
// completed.
func taskCompletions(ctx context.Context, tc client.Client, steps []stepArrival) (map[string]map[int64]time.Time, error) {
	out := map[string]map[int64]time.Time{}
	for _, st := range steps {
		if out[st.op] != nil {
			continue
		}
		m := map[int64]time.Time{}
		out[st.op] = m
		var started *time.Time
		it := tc.GetWorkflowHistory(ctx, st.op, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", st.op, err)
			}
			switch ev.EventType {
			case enums.EVENT_TYPE_WORKFLOW_TASK_STARTED:
				t := ev.EventTime.AsTime()
				started = &t
			case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				if started != nil {
					m[started.UnixNano()] = ev.EventTime.AsTime()
				}
				started = nil
			}
		}
	}
	return out, nil
}
