package approval

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// element is one start tag of a rendered page, with the text directly inside it.
type element struct {
	name  string
	attrs map[string]string
	text  string
	form  int // index+1 of the enclosing <form>, 0 outside forms
}

// parsePage reads a rendered page with encoding/xml, which the template is written
// to satisfy, so tests see attribute values and text after unescaping.
func parsePage(t *testing.T, page string) []element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	var (
		els   []element
		stack []int
		forms int
		form  int
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v\n%s", err, page)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attrs: map[string]string{}, form: form}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if e.name == "form" {
				forms++
				form = forms
				e.form = form
			}
			els = append(els, e)
			stack = append(stack, len(els)-1)
		case xml.EndElement:
			if tok.Name.Local == "form" {
				form = 0
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].text += string(tok)
			}
		}
	}
	return els
}

func find(els []element, match func(element) bool) []element {
	var out []element
	for _, e := range els {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

func render(t *testing.T, p Page) string {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderPage(&buf, p); err != nil {
		t.Fatalf("RenderPage: %v", err)
	}
	return buf.String()
}

func testPage() Page {
	return Page{
		ApproveAction: "/api/v1/cluster-approvals?action=APPROVE",
		RejectAction:  "/api/v1/cluster-approvals?action=REJECT",
		Token:         "v1.eyJwIjoiYXBwcm92YWwifQ.c2lnbmF0dXJl",
		OrgID:         "6f1c2e0a-4b7d-4c2e-9a51-3d8f0b6e2a17",
		ClusterName:   "payments-prod",
		OperationID:   "deploy-42",
		OperationType: "deploy",
		Summary: []Fact{
			{"Provider", "aws"}, {"Region", "eu-west-1"}, {"Kubernetes version", "1.33"},
			{"Node groups", "system: 3 × m7g.large; workers: 2–10 × c7g.2xlarge"},
			{"Requested by", "alice@example.com"},
		},
		ExpiresAt: time.Date(2026, 3, 17, 17, 9, 0, 0, time.FixedZone("CET", 3600)),
	}
}

func TestRenderPageForms(t *testing.T) {
	p := testPage()
	page := render(t, p)
	els := parsePage(t, page)

	titles := find(els, func(e element) bool { return e.name == "title" })
	if len(titles) != 1 || titles[0].text != "Approve deploy of cluster payments-prod" {
		t.Errorf("title = %+v, want %q", titles, "Approve deploy of cluster payments-prod")
	}
	for _, meta := range []struct{ name, content string }{
		{"robots", "noindex"}, {"referrer", "no-referrer"},
	} {
		if len(find(els, func(e element) bool {
			return e.name == "meta" && e.attrs["name"] == meta.name && e.attrs["content"] == meta.content
		})) != 1 {
			t.Errorf("no <meta name=%q content=%q>", meta.name, meta.content)
		}
	}
	for _, tag := range []string{"script", "link", "img", "iframe", "a"} {
		if got := find(els, func(e element) bool { return e.name == tag }); len(got) != 0 {
			t.Errorf("page has <%s>, want a self-contained page without it", tag)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("page references an absolute URL")
	}

	forms := find(els, func(e element) bool { return e.name == "form" })
	if len(forms) != 2 {
		t.Fatalf("page has %d forms, want 2", len(forms))
	}
	wantButtons := []struct{ id, value, text string }{
		{"approve", "APPROVE", "Approve"},
		{"reject", "REJECT", "Reject"},
	}
	for i, f := range forms {
		wantAction := []string{p.ApproveAction, p.RejectAction}[i]
		if f.attrs["method"] != "post" || f.attrs["action"] != wantAction {
			t.Errorf("form %d: method %q action %q, want post %q", i, f.attrs["method"], f.attrs["action"], wantAction)
		}
		in := func(e element) bool { return e.form == i+1 }
		hidden := map[string]string{}
		for _, e := range find(els, func(e element) bool { return in(e) && e.name == "input" }) {
			if e.attrs["type"] != "hidden" {
				t.Errorf("form %d: input %q is %q, want hidden", i, e.attrs["name"], e.attrs["type"])
			}
			hidden[e.attrs["name"]] = e.attrs["value"]
		}
		wantHidden := map[string]string{"token": p.Token, "orgId": p.OrgID, "clusterName": p.ClusterName}
		for k, v := range wantHidden {
			if hidden[k] != v {
				t.Errorf("form %d: hidden %s = %q, want %q", i, k, hidden[k], v)
			}
		}
		if len(hidden) != len(wantHidden) {
			t.Errorf("form %d: hidden inputs %v, want exactly %v", i, hidden, wantHidden)
		}
		buttons := find(els, func(e element) bool { return in(e) && e.name == "button" })
		want := wantButtons[i]
		if len(buttons) != 1 {
			t.Fatalf("form %d: %d buttons, want 1", i, len(buttons))
		}
		b := buttons[0]
		if b.attrs["type"] != "submit" || b.attrs["name"] != "action" || b.attrs["value"] != want.value ||
			b.attrs["id"] != want.id || b.text != want.text {
			t.Errorf("form %d: button %+v, want submit action=%s id=%s text %q", i, b, want.value, want.id, want.text)
		}
	}

	facts := map[string]string{}
	dts := find(els, func(e element) bool { return e.name == "dt" })
	dds := find(els, func(e element) bool { return e.name == "dd" })
	if len(dts) != len(dds) {
		t.Fatalf("%d labels for %d values", len(dts), len(dds))
	}
	for i := range dts {
		facts[dts[i].text] = dds[i].text
	}
	for _, f := range append([]Fact{{"Cluster", "payments-prod"}, {"Operation", "deploy"}, {"Operation ID", "deploy-42"}}, p.Summary...) {
		if facts[f.Label] != f.Value {
			t.Errorf("fact %q = %q, want %q", f.Label, facts[f.Label], f.Value)
		}
	}

	times := find(els, func(e element) bool { return e.name == "time" })
	if len(times) != 1 || times[0].attrs["datetime"] != "2026-03-17T16:09:00Z" || times[0].text != "Tue 17 Mar 2026, 16:09 UTC" {
		t.Errorf("expiry = %+v, want 2026-03-17 16:09 in UTC", times)
	}
}

func TestRenderPageEscapes(t *testing.T) {
	const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	p := testPage()
	p.ClusterName = hostile
	p.OrgID = hostile
	p.Token = hostile
	p.OperationType = "<script>deploy</script>"
	p.Summary = []Fact{{Label: "<script>label</script>", Value: hostile}}
	page := render(t, p)

	for _, bad := range []string{"<script", "<img", `"><`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q:\n%s", bad, page)
		}
	}
	// Escaping must preserve the values: the hidden inputs post back what was given.
	els := parsePage(t, page)
	for _, name := range []string{"token", "orgId", "clusterName"} {
		for _, e := range find(els, func(e element) bool { return e.name == "input" && e.attrs["name"] == name }) {
			if e.attrs["value"] != hostile {
				t.Errorf("hidden %s = %q, want %q", name, e.attrs["value"], hostile)
			}
		}
	}
	if got := find(els, func(e element) bool { return e.name == "h1" }); len(got) != 1 ||
		got[0].text != "Approve <script>deploy</script> of cluster "+hostile {
		t.Errorf("heading = %+v, want the hostile values as text", got)
	}
}

func TestRenderPageUnsafeAction(t *testing.T) {
	p := testPage()
	p.ApproveAction = "javascript:alert(1)"
	page := render(t, p)
	if strings.Contains(page, "javascript:") {
		t.Fatalf("page keeps a javascript: form action:\n%s", page)
	}
}

func TestRenderPageWithoutButtons(t *testing.T) {
	tests := []struct {
		name      string
		modify    func(*Page)
		wantClass string
		wantText  string
	}{
		{"error", func(p *Page) { p.Error = "This link has expired." }, "error", "This link has expired."},
		{"done", func(p *Page) { p.Done = "Approved. The deploy continues." }, "done", "Approved. The deploy continues."},
		{"error wins over done", func(p *Page) { p.Error = "This link was already used."; p.Done = "Approved." }, "error", "This link was already used."},
		{"error without token", func(p *Page) {
			p.Error = "This link is not valid."
			p.Token = ""
			p.ApproveAction, p.RejectAction = "", ""
		}, "error", "This link is not valid."},
		{"hostile error", func(p *Page) { p.Error = "<script>x</script>" }, "error", "<script>x</script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPage()
			tt.modify(&p)
			page := render(t, p)
			els := parsePage(t, page)
			for _, tag := range []string{"form", "button", "input"} {
				if got := find(els, func(e element) bool { return e.name == tag }); len(got) != 0 {
					t.Errorf("page has %d <%s>, want none", len(got), tag)
				}
			}
			if p.Token != "" && strings.Contains(page, p.Token) {
				t.Error("page without buttons still carries the token")
			}
			notes := find(els, func(e element) bool { return e.name == "p" && strings.Contains(e.attrs["class"], tt.wantClass) })
			if len(notes) != 1 || notes[0].text != tt.wantText {
				t.Errorf("notice = %+v, want class %q text %q", notes, tt.wantClass, tt.wantText)
			}
		})
	}
}

func TestRenderPageRequiresFormFields(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Page)
	}{
		{"no action", func(p *Page) { p.ApproveAction = "" }},
		{"no token", func(p *Page) { p.Token = "" }},
		{"no org", func(p *Page) { p.OrgID = "" }},
		{"no cluster", func(p *Page) { p.ClusterName = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPage()
			tt.modify(&p)
			var buf bytes.Buffer
			if err := RenderPage(&buf, p); err == nil {
				t.Fatal("RenderPage succeeded, want an error")
			}
			if buf.Len() != 0 {
				t.Errorf("RenderPage wrote %d bytes on error", buf.Len())
			}
		})
	}
}

func TestSetPageHeaders(t *testing.T) {
	h := make(map[string][]string)
	SetPageHeaders(h)
	for k, want := range map[string]string{
		"Content-Type":    "text/html; charset=utf-8",
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer",
	} {
		if got := h[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want %q", k, got, want)
		}
	}
	if csp := h["Content-Security-Policy"]; len(csp) != 1 || !strings.Contains(csp[0], "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %v, want frame-ancestors 'none'", csp)
	}
}
