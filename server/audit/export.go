package audit

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/astropulse/astroplane/store"
)

// Format is an export's format.
type Format string

// Export formats.
const (
	FormatJSON Format = "json"
	FormatCSV  Format = "csv"
)

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	if f == FormatCSV {
		return "text/csv; charset=utf-8"
	}
	return "application/json"
}

// flushEvery is how many events are written between flushes to the client.
const flushEvery = 256

// csvHeader names the columns of a CSV export.
var csvHeader = []string{"id", "timestamp", "orgId", "eventType", "action", "outcome", "userId", "apiKeyId",
	"resourceId", "ipAddress", "userAgent", "source", "traceId", "details"}

// Export writes orgID's events matching f to w in format, newest first, and returns
// how many it wrote. Events are read one row at a time and written as they come
// (flushed every few hundred when w is an http.Flusher), so memory stays flat
// however many match. The JSON form is the success envelope with the events in data;
// traceID fills its id.
func Export(ctx context.Context, st *store.Store, orgID string, f store.AuditFilter, format Format, traceID string, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 32<<10)
	flusher, _ := w.(http.Flusher)
	n := 0
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	var err error
	if format == FormatCSV {
		err = exportCSV(ctx, st, orgID, f, bw, &n, flush)
	} else {
		err = exportJSON(ctx, st, orgID, f, traceID, bw, &n, flush)
	}
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

func exportJSON(ctx context.Context, st *store.Store, orgID string, f store.AuditFilter, traceID string, bw *bufio.Writer, n *int, flush func() error) error {
	if _, err := bw.WriteString(`{"data":[`); err != nil {
		return err
	}
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := st.StreamAudit(ctx, orgID, f, func(e *store.AuditEvent) error {
		if *n > 0 {
			if err := bw.WriteByte(','); err != nil {
				return err
			}
		}
		if err := enc.Encode(toAPI(e)); err != nil { // Encode adds a newline: valid JSON whitespace
			return err
		}
		*n++
		if *n%flushEvery == 0 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	tail, err := json.Marshal(map[string]string{"id": traceID, "message": strconv.Itoa(*n) + " audit events", "status": "success"})
	if err != nil {
		return err
	}
	_, err = bw.WriteString("]," + string(tail[1:]))
	return err
}

func exportCSV(ctx context.Context, st *store.Store, orgID string, f store.AuditFilter, bw *bufio.Writer, n *int, flush func() error) error {
	cw := csv.NewWriter(bw)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	row := make([]string, len(csvHeader))
	err := st.StreamAudit(ctx, orgID, f, func(e *store.AuditEvent) error {
		row[0], row[1], row[2] = e.ID, e.CreatedAt.UTC().Format(time.RFC3339Nano), e.OrgID
		row[3], row[4], row[5] = e.EventType, e.Action, e.Outcome
		row[6], row[7], row[8] = e.UserID, e.APIKeyID, e.ResourceID
		row[9], row[10], row[11] = e.IPAddress, e.UserAgent, e.Source
		row[12], row[13] = e.TraceID, string(e.Details)
		for i := range row {
			row[i] = defuse(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		*n++
		if *n%flushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return flush()
		}
		return nil
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// defuse keeps a spreadsheet from running a cell as a formula (CSV injection): a
// value a client chose (user agent, resource name) that starts with =, +, -, @, tab or
// carriage return gets a leading apostrophe.
func defuse(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + v
	}
	return v
}
