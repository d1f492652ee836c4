package clusters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// StreamClusterProgress upgrades to a WebSocket and pushes the operation's progress
// each time it changes, then its terminal state, then closes. Changes are learned by
// long-polling the workflow's history on the Temporal server (each step is an
// activity event there), not by polling on a timer; the server keeps the history, so
// the stream carries on while workers restart. Authentication happens before the
// upgrade (the usual X-Astro-API-Key header), so an unauthenticated client gets a 401.
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
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // Accept has answered the client already
	}
	defer conn.CloseNow()
	// The request context ends when the handler returns; the stream lives on its own,
	// ending when the client goes away (CloseRead) or the operation ends.
	ctx := conn.CloseRead(context.WithoutCancel(c.Request().Context()))
	ctx, cancel := context.WithTimeout(ctx, 24*time.Hour)
	defer cancel()
	if err := s.streamProgress(ctx, conn, cl, op); err != nil && ctx.Err() == nil {
		msg := err.Error()
		_ = wsjson.Write(ctx, conn, api.ClusterProgressEvent{Type: api.ClusterProgressEventTypeError, Error: &msg})
		s.log.WarnContext(ctx, "progress stream ended", "err", err, "operationID", op.ID, "traceID", httpx.TraceID(c))
		conn.Close(websocket.StatusInternalError, "stream failed")
		return nil
	}
	conn.Close(websocket.StatusNormalClosure, "operation ended")
	return nil
}

func (s *Server) streamProgress(ctx context.Context, conn *websocket.Conn, cl store.Cluster, op store.Operation) error {
	var last []byte
	push := func(kind api.ClusterProgressEventType) error {
		pr, detail, err := s.progress(ctx, op)
		if err != nil {
			return err
		}
		view := progressView(pr, detail, cl)
		raw, _ := json.Marshal(view)
		if kind == api.ClusterProgressEventTypeProgress && bytes.Equal(raw, last) {
			return nil
		}
		last = raw
		return wsjson.Write(ctx, conn, api.ClusterProgressEvent{Type: kind, Progress: &view})
	}
	if err := push(api.ClusterProgressEventTypeProgress); err != nil {
		return err
	}
	it := s.temporal.GetWorkflowHistory(ctx, op.WorkflowID, "", true, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if closes(ev) {
			return push(api.ClusterProgressEventTypeCompleted)
		}
		if changesProgress(ev) {
			if err := push(api.ClusterProgressEventTypeProgress); err != nil && !errors.Is(err, context.Canceled) {
				// A query can fail while no worker is up; the next event tries again.
				s.log.DebugContext(ctx, "progress query failed during stream", "err", err, "operationID", op.ID)
			}
		}
	}
	return push(api.ClusterProgressEventTypeCompleted)
}

// changesProgress reports whether an event can change what the progress query says.
func changesProgress(ev *history.HistoryEvent) bool {
	switch ev.EventType {
	case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enums.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enums.EVENT_TYPE_ACTIVITY_TASK_FAILED,
		enums.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, enums.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
		enums.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
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
