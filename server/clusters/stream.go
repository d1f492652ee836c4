package clusters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// StreamClusterProgress upgrades to a WebSocket and pushes the operation's progress
// each time it changes, then its terminal state, then closes. Step changes are
// learned by long-polling the workflow's history on the Temporal server (the
// workflow's progress memo changes there, in the workflow task that changes it),
// not by polling on a timer; the server keeps the history, so the stream carries on
// while workers restart. The running step's provider
// reports (heartbeat details) come from the store's progress feed through the
// process's hub, milliseconds after the worker saw them. Authentication happens
// before the upgrade (the usual X-Astro-API-Key header), so an unauthenticated client
// gets a 401, and a key or organization over its cap of open streams a 429. A stream
// opened with an API key closes (1008) within about a second of the key being
// revoked, deleted or expiring. Failures reach the client as a generic message with
// the request's trace ID; their detail goes to the log.
func (s *Server) StreamClusterProgress(c echo.Context, clusterID string, params api.StreamClusterProgressParams) error {
	if !webSocketUpgrade(c.Request()) {
		c.Response().Header().Set("Upgrade", "websocket")
		return &httpx.APIError{Status: http.StatusUpgradeRequired, Code: httpx.CodeUpgradeRequired,
			Message: "this route is a WebSocket: connect with a WebSocket client (e.g. websocat), or poll GET …/progress over plain HTTP"}
	}
	cl, op, err := s.findOperation(c, clusterID, params.OperationId)
	if err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	sub, err := s.streamHub().subscribe(p, op.WorkflowID)
	if err != nil {
		return err
	}
	defer sub.unsubscribe()
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // Accept has answered the client already
	}
	defer conn.CloseNow()
	traceID := httpx.TraceID(c)
	// The request context ends when the handler returns; the stream lives on its own,
	// ending when the client goes away (CloseRead) or the operation ends.
	ctx := conn.CloseRead(context.WithoutCancel(c.Request().Context()))
	ctx, cancel := context.WithTimeout(ctx, 24*time.Hour)
	defer cancel()
	err = s.streamProgress(ctx, conn, cl, op, sub)
	switch {
	case errors.Is(err, errStreamEnded):
		msg := sub.endReason
		_ = wsjson.Write(ctx, conn, api.ClusterProgressEvent{Type: api.ClusterProgressEventTypeError, Error: &msg})
		s.log.InfoContext(ctx, "progress stream closed", "reason", sub.endReason, "operationID", op.ID, "traceID", traceID)
		conn.Close(websocket.StatusPolicyViolation, sub.endReason)
	case err != nil && ctx.Err() == nil:
		// The cause stays in the log: it may name internal hosts, queries or state.
		msg := "progress stream failed; trace ID " + traceID
		_ = wsjson.Write(ctx, conn, api.ClusterProgressEvent{Type: api.ClusterProgressEventTypeError, Error: &msg})
		s.log.WarnContext(ctx, "progress stream ended", "err", err, "operationID", op.ID, "traceID", traceID)
		conn.Close(websocket.StatusInternalError, msg)
	case err == nil:
		conn.Close(websocket.StatusNormalClosure, "operation ended")
	}
	return nil
}

// errStreamEnded: the hub ended the stream (sub.endReason says why).
var errStreamEnded = errors.New("stream ended by the server")

// refresh is a progress read for a stream: seq is the number of reads asked for
// when it began, so a read older than a request is told apart.
type refresh struct {
	seq    uint64
	pr     workflows.Progress
	detail map[string]any
	err    error
}

func (s *Server) streamProgress(ctx context.Context, conn *websocket.Conn, cl store.Cluster, op store.Operation, sub *subscription) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The history's length before the first read: progress changes later in the
	// history are newer than that read.
	d, err := s.temporal.DescribeWorkflow(ctx, op.WorkflowID, "")
	if err != nil {
		return fmt.Errorf("describe %s: %w", op.WorkflowID, err)
	}
	seen := d.RawResponse.GetWorkflowExecutionInfo().GetHistoryLength()
	pr, detail, err := s.progress(ctx, op)
	if err != nil {
		return err
	}
	view := &streamView{cl: cl}
	view.set(pr, detail, 0)
	if err := view.push(ctx, conn, api.ClusterProgressEventTypeProgress); err != nil {
		return err
	}
	var asked atomic.Uint64 // progress reads asked for
	kick := make(chan struct{}, 1)
	ask := func() uint64 {
		n := asked.Add(1)
		select {
		case kick <- struct{}{}:
		default:
		}
		return n
	}
	refreshes := make(chan refresh)
	go func() { // reads the progress when asked, one read at a time
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			r := refresh{seq: asked.Load()}
			r.pr, r.detail, r.err = s.progress(ctx, op)
			select {
			case refreshes <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	changes := make(chan refresh)
	detailRead := time.NewTimer(time.Hour)
	detailRead.Stop()
	defer detailRead.Stop()
	closed := make(chan error, 1)
	go func() { closed <- s.followHistory(ctx, op, seen, ask, changes) }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.ended:
			return errStreamEnded
		case err := <-closed:
			if err != nil {
				return err
			}
			pr, detail, err := s.progress(ctx, op)
			if err != nil {
				return err
			}
			view.memoSeen = false // the final read is the last word
			view.set(pr, detail, asked.Load())
			return view.push(ctx, conn, api.ClusterProgressEventTypeCompleted)
		case c := <-changes:
			// Reads in flight predate the change: only the next one counts.
			view.setMemo(c.pr, asked.Load()+1)
			detailRead.Reset(detailDelay)
		case <-detailRead.C:
			ask()
		case r := <-refreshes:
			if r.err != nil {
				// A read can fail while Temporal is busy; the next change tries again.
				s.log.DebugContext(ctx, "progress read failed during stream", "err", r.err, "operationID", op.ID)
				continue
			}
			view.set(r.pr, r.detail, r.seq)
		case <-sub.ready:
			// Each report is a change of its own: pushed one by one, none hidden
			// behind a newer one that arrived with it.
			for _, r := range sub.take() {
				if view.take(r) {
					view.waitingSeq = ask()
				} else if err := view.push(ctx, conn, api.ClusterProgressEventTypeProgress); err != nil {
					return err
				}
			}
			continue
		}
		for view.placeReady() {
			if err := view.push(ctx, conn, api.ClusterProgressEventTypeProgress); err != nil {
				return err
			}
		}
		if err := view.push(ctx, conn, api.ClusterProgressEventTypeProgress); err != nil {
			return err
		}
	}
}

// detailDelay is how long after a progress change from the history a stream reads
// the running activity's detail (its attempt, last failure): the change itself is
// pushed at once, and a step's provider reports come from the feed, so the read can
// wait out the burst of work that comes with a change (the new activity starting,
// other streams' changes) instead of adding to it.
const detailDelay = 250 * time.Millisecond

// followHistory long-polls the workflow's history and returns when the workflow
// has closed (nil) or the poll fails. Each change of the progress memo after event
// seen goes to changes at once; until the first, each workflow task completed asks
// for a progress read (a workflow that keeps no memo is read that way throughout).
func (s *Server) followHistory(ctx context.Context, op store.Operation, seen int64, ask func() uint64, changes chan<- refresh) error {
	it := s.temporal.GetWorkflowHistory(ctx, op.WorkflowID, "", true, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	memo := false // the workflow keeps its progress in its memo: the caller reads details
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return err
		}
		if closes(ev) {
			return nil
		}
		if changesProgress(ev) && !memo {
			ask()
		}
		if ev.EventId <= seen {
			continue
		}
		field := ev.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo().GetFields()[workflows.MemoProgress]
		if field == nil {
			continue
		}
		var pr workflows.Progress
		if err := converter.GetDefaultDataConverter().FromPayload(field, &pr); err != nil {
			s.log.DebugContext(ctx, "progress memo not decoded", "err", err, "operationID", op.ID)
			continue
		}
		memo = true
		select {
		case changes <- refresh{pr: pr}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// streamView is what a stream last knew of its operation: the progress read from
// the workflow and the latest provider report of the running step from the feed,
// which replaces the (older, throttled) heartbeat of the read on that step.
type streamView struct {
	cl     store.Cluster
	pr     workflows.Progress
	detail map[string]any
	// report is the feed's latest report of the running step (reportStep).
	report     *store.ProgressReport
	reportStep string
	// waiting are the reports the view cannot place yet, oldest first: their step
	// is not the running one in the last read (the read is behind, or a rollback
	// names the step it undoes). A read asked for after they arrived (seq ≥
	// waitingSeq) places them, or drops them when their call is over; placed ones
	// wait in ready to be pushed one by one.
	waiting    []store.ProgressReport
	waitingSeq uint64
	ready      []readyReport
	// memoSeen: the progress comes from the history's memo changes (memoSeq is
	// the read asked for the last one's task); reads only bring the running
	// activity's detail then, and only reads asked from that task on.
	memoSeen bool
	memoSeq  uint64
	last     []byte
}

// set takes a progress read made when seq reads had been asked for.
func (v *streamView) set(pr workflows.Progress, detail map[string]any, seq uint64) {
	if v.memoSeen {
		if seq < v.memoSeq {
			return // older than the progress the view has
		}
		pr = v.pr
	}
	v.apply(pr, detail, seq)
}

// setMemo takes a progress change from the history; read seq is the first asked
// after it. Until that read comes, a new running step has no activity detail (but
// the feed's reports).
func (v *streamView) setMemo(pr workflows.Progress, seq uint64) {
	detail := v.detail
	if runningStep(pr) != runningStep(v.pr) {
		detail = nil
	}
	v.memoSeen, v.memoSeq = true, seq
	v.apply(pr, detail, 0)
}

// apply makes pr and detail the view's, and readies the waiting reports it can
// place (by step always, by activity with a read asked after they arrived: seq ≥
// waitingSeq).
func (v *streamView) apply(pr workflows.Progress, detail map[string]any, seq uint64) {
	v.pr, v.detail = pr, detail
	running := runningStep(pr)
	if v.report != nil && running != v.reportStep {
		v.report = nil // that step is over
	}
	read := seq > 0 && seq >= v.waitingSeq
	keep := v.waiting[:0]
	for _, w := range v.waiting {
		switch {
		case running != "" && (running == w.Step || (read && activityOf(detail) == w.Activity)):
			v.ready = append(v.ready, readyReport{w, running})
		case !read:
			keep = append(keep, w)
		}
	}
	v.waiting = keep
}

// readyReport is a report placed on step, still to be pushed.
type readyReport struct {
	r    store.ProgressReport
	step string
}

// placeReady places the next ready report and says whether there was one: each is
// a change of its own, pushed before the next.
func (v *streamView) placeReady() bool {
	if len(v.ready) == 0 {
		return false
	}
	next := v.ready[0]
	v.ready = v.ready[1:]
	v.place(&next.r, next.step)
	return true
}

// maxWaiting bounds the reports a stream holds while it cannot place them.
const maxWaiting = 64

// take takes a report from the feed and says whether the view needs a fresh
// progress read to place it.
func (v *streamView) take(r store.ProgressReport) bool {
	running := runningStep(v.pr)
	switch {
	case running != "" && running == r.Step:
		v.place(&r, running)
		return false
	case v.report != nil && v.report.ActivityID == r.ActivityID:
		v.place(&r, v.reportStep) // the call placed before, e.g. a rollback's
		return false
	}
	asked := false
	for _, w := range v.waiting {
		asked = asked || w.ActivityID == r.ActivityID // the read asked for at its first report will do
	}
	v.waiting = append(v.waiting, r)
	if len(v.waiting) > maxWaiting {
		v.waiting = v.waiting[len(v.waiting)-maxWaiting:]
	}
	return !asked
}

// place puts r on step, unless the step has a later report already.
func (v *streamView) place(r *store.ProgressReport, step string) {
	if v.report != nil && v.reportStep == step && r.At.Before(v.report.At) {
		return
	}
	v.report, v.reportStep = r, step
}

// push sends the view as an event of kind, unless it is a progress event that says
// nothing new.
func (v *streamView) push(ctx context.Context, conn *websocket.Conn, kind api.ClusterProgressEventType) error {
	detail := v.detail
	// The feed's report is the latest the provider said: a later heartbeat time in
	// the read can only be the adapter repeating that report to Temporal.
	if r := v.report; r != nil {
		detail = map[string]any{"activity": r.Activity, "attempt": r.Attempt, "heartbeat": r.Detail, "lastHeartbeatAt": r.At}
		if f, ok := v.detail["lastFailure"]; ok {
			detail["lastFailure"] = f
		}
	}
	view := progressView(v.pr, detail, v.cl)
	raw, err := json.Marshal(api.ClusterProgressEvent{Type: kind, Progress: &view})
	if err != nil {
		return err
	}
	if bytes.Equal(raw, v.last) {
		return nil // nothing new (a completed event always differs from a progress one)
	}
	v.last = raw
	return conn.Write(ctx, websocket.MessageText, raw) // one encoding, compared and sent
}

func runningStep(pr workflows.Progress) string {
	for _, st := range pr.Steps {
		if st.Status == workflows.StepRunning {
			return st.Name
		}
	}
	return ""
}

func activityOf(detail map[string]any) string {
	a, _ := detail["activity"].(string)
	return a
}

// changesProgress reports whether an event can change what a progress read says:
// the workflow changes its progress (memo and query state) only in workflow tasks,
// so a completed workflow task (a cancel request leads to one too). Activity events
// come in the same page as the task that scheduled them or are followed by the
// task that handles their result; one read per task, not per event, keeps 200
// streams' reads off the Temporal server.
func changesProgress(ev *history.HistoryEvent) bool {
	switch ev.EventType {
	case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
		return true
	}
	return false
}

func closes(ev *history.HistoryEvent) bool {
	switch ev.EventType {
	case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enums.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		enums.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enums.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return true
	}
	return false
}

// webSocketUpgrade reports whether r asks to upgrade to a WebSocket (RFC 6455: a GET
// with "Connection: upgrade" and "Upgrade: websocket", each possibly in a list).
func webSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
