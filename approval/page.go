package approval

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"time"
)

// Page is the confirmation page an approval link opens. Opening it changes nothing:
// the decision is a POST from one of its two forms, which carry the token, orgId and
// clusterName as hidden inputs and action=APPROVE or action=REJECT from the button.
type Page struct {
	// ApproveAction and RejectAction are the two forms' POST targets. The decision
	// endpoint takes its inputs as query parameters (as the API reference has it), so
	// each target carries them, action included; the hidden fields repeat them for
	// clients that read form bodies.
	ApproveAction string
	RejectAction  string
	Token         string
	OrgID         string
	ClusterName   string
	OperationID   string
	// OperationType is deploy, update or delete.
	OperationType string
	// Summary is what will be approved: provider, region, version, node groups,
	// requested by, requested at…, shown in order after the cluster and operation.
	Summary   []Fact
	ExpiresAt time.Time
	// Error, when set, explains why nothing can be decided (expired, already used…);
	// the page then shows no buttons. It takes precedence over Done.
	Error string
	// Done, when set, is the outcome (e.g. "Approved. The deploy continues."); the
	// page then shows no buttons.
	Done string
}

// Fact is one labelled line of a Page's summary.
type Fact struct {
	Label, Value string
}

// pageView is what the template sees; every string in it is escaped by context.
type pageView struct {
	Title                       string
	ApproveAction, RejectAction string
	Token, OrgID, Name          string
	Facts                       []Fact
	ExpiresISO, ExpiresDisplay  string
	Error, Done                 string
	ShowForms                   bool
}

// expiryLayout shows an expiry unambiguously to a reader in any time zone.
const expiryLayout = "Mon 2 Jan 2006, 15:04 UTC"

// RenderPage writes p as a complete, self-contained HTML page (inline CSS, no
// scripts, no external resources) to w. Every value is escaped for its context by
// html/template. Unless p.Error or p.Done is set, p.ApproveAction, p.RejectAction, p.Token, p.OrgID and
// p.ClusterName are required. Nothing is written when it returns an error.
//
// Serve the page with [SetPageHeaders].
func RenderPage(w io.Writer, p Page) error {
	v := pageView{
		Title:         fmt.Sprintf("Approve %s of cluster %s", orDefault(p.OperationType, "operation"), p.ClusterName),
		ApproveAction: p.ApproveAction,
		RejectAction:  p.RejectAction,
		Token:         p.Token,
		OrgID:         p.OrgID,
		Name:          p.ClusterName,
		Error:         p.Error,
		Done:          p.Done,
		ShowForms:     p.Error == "" && p.Done == "",
	}
	if v.ShowForms {
		if err := checkForms(p); err != nil {
			return err
		}
	}
	v.Facts = append(v.Facts, Fact{"Cluster", p.ClusterName})
	if p.OperationType != "" {
		v.Facts = append(v.Facts, Fact{"Operation", p.OperationType})
	}
	if p.OperationID != "" {
		v.Facts = append(v.Facts, Fact{"Operation ID", p.OperationID})
	}
	v.Facts = append(v.Facts, p.Summary...)
	if !p.ExpiresAt.IsZero() {
		t := p.ExpiresAt.UTC()
		v.ExpiresISO = t.Format(time.RFC3339)
		v.ExpiresDisplay = t.Format(expiryLayout)
	}

	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("render approval page: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("write approval page: %w", err)
	}
	return nil
}

// SetPageHeaders sets the response headers the confirmation page needs: HTML, never
// cached or stored (the URL holds a token), never framed (a framed Approve button
// could be clickjacked), never indexed, no referrer.
func SetPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP+"; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Referrer-Policy", "no-referrer")
}

// pageCSP allows the inline style sheet and nothing else to load or run.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkForms refuses a page with buttons that could not post a decision. (Ifs, not a
// switch: gremlins cannot mutate case expressions.)
func checkForms(p Page) error {
	if p.ApproveAction == "" || p.RejectAction == "" {
		return errors.New("render approval page: no form action")
	}
	if p.Token == "" {
		return errors.New("render approval page: no token")
	}
	if p.OrgID == "" || p.ClusterName == "" {
		return errors.New("render approval page: no org or cluster")
	}
	return nil
}

// pageTemplate closes every element (void ones with "/>") and uses no named
// entities, so tests can read it with encoding/xml.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<meta name="robots" content="noindex" />
<meta name="referrer" content="no-referrer" />
<meta http-equiv="Content-Security-Policy" content="` + pageCSP + `" />
<title>{{.Title}}</title>
<style>
body { margin: 0; padding: 2rem 1rem; background: #f4f5f7; color: #1d2330; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 36rem; margin: 0 auto; padding: 1.5rem 2rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12); }
h1 { margin: 0 0 1rem; font-size: 1.35rem; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.35rem 1rem; margin: 1rem 0; }
dt { color: #5b6475; }
dd { margin: 0; overflow-wrap: anywhere; }
.notice { padding: 0.75rem 1rem; border-radius: 6px; }
.error { background: #fdecea; color: #8a1c12; }
.done { background: #e7f5ec; color: #135c2e; }
.expiry { color: #5b6475; font-size: 0.9rem; }
.actions { display: flex; gap: 0.75rem; margin-top: 1.5rem; }
.actions form { margin: 0; }
button { padding: 0.6rem 1.6rem; border: 1px solid transparent; border-radius: 6px; font: inherit; font-weight: 600; cursor: pointer; }
#approve { background: #1a7f37; color: #fff; }
#reject { background: #fff; color: #b42318; border-color: #b42318; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{- if .Error}}
<p class="notice error" role="alert">{{.Error}}</p>
{{- else if .Done}}
<p class="notice done" role="status">{{.Done}}</p>
{{- else}}
<p>Review the operation below. Nothing happens until you choose Approve or Reject.</p>
{{- end}}
<dl>
{{- range .Facts}}
<dt>{{.Label}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>
{{- if .ShowForms}}
{{- if .ExpiresISO}}
<p class="expiry">This link expires <time datetime="{{.ExpiresISO}}">{{.ExpiresDisplay}}</time>.</p>
{{- end}}
<div class="actions">
<form method="post" action="{{.ApproveAction}}">
<input type="hidden" name="token" value="{{.Token}}" />
<input type="hidden" name="orgId" value="{{.OrgID}}" />
<input type="hidden" name="clusterName" value="{{.Name}}" />
<button type="submit" name="action" value="APPROVE" id="approve">Approve</button>
</form>
<form method="post" action="{{.RejectAction}}">
<input type="hidden" name="token" value="{{.Token}}" />
<input type="hidden" name="orgId" value="{{.OrgID}}" />
<input type="hidden" name="clusterName" value="{{.Name}}" />
<button type="submit" name="action" value="REJECT" id="reject">Reject</button>
</form>
</div>
{{- end}}
</main>
</body>
</html>
`))
