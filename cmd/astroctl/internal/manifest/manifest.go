// Package manifest reads the documents users apply — YAML or JSON, several to a file,
// a file, a directory or standard input — checks what can be checked before anything
// is sent (a known kind, a name, no unfilled placeholder), and orders them so what
// others depend on goes first: clusters, then profiles, then applications.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The kinds apply knows, in the order a directory applies them.
const (
	KindCluster      = "K8sCluster"
	KindRegistration = "K8sClusterRegistration"
	KindUpdate       = "K8sClusterUpdate"
	KindProfile      = "ApplicationProfile"
	KindApplication  = "Application"
)

var kindOrder = map[string]int{
	KindCluster:      0,
	KindRegistration: 1,
	KindUpdate:       2,
	KindProfile:      3,
	KindApplication:  4,
}

// Kinds lists the known kinds in apply order.
func Kinds() []string {
	return []string{KindCluster, KindRegistration, KindUpdate, KindProfile, KindApplication}
}

// Doc is one manifest.
type Doc struct {
	// Source says where it came from: "file.yaml" or "file.yaml#2" for the second
	// document of a file, "-" for standard input.
	Source string
	Kind   string
	// Name is the resource's name (spec.clusterName, spec.profileName, spec.name);
	// empty for K8sClusterUpdate, which names no cluster.
	Name string
	// Object is the document as decoded.
	Object map[string]any
}

// JSON is the document as the API takes it.
func (d Doc) JSON() ([]byte, error) { return json.Marshal(d.Object) }

func known(kind string) bool {
	_, ok := kindOrder[kind]
	return ok
}

// Spec is the document's spec (the whole document for a legacy flat K8sCluster).
func (d Doc) Spec() map[string]any {
	if s, ok := d.Object["spec"].(map[string]any); ok {
		return s
	}
	return d.Object
}

// Problem is one thing wrong with a manifest, before it is sent.
type Problem struct {
	Source  string
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Source + ": " + p.Message
	}
	return p.Source + ": " + p.Field + ": " + p.Message
}

// ValidationError lists every problem found; nothing was sent.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid manifest: " + lines[0]
	}
	return "invalid manifests:\n  " + strings.Join(lines, "\n  ")
}

// Load reads every manifest under paths (files, directories — their *.yaml, *.yml
// and *.json files, not subdirectories — or "-" for stdin), checks them and returns
// them in apply order (kinds as Kinds lists them; within a kind, as read, a
// directory's files by name). set fills placeholders: set["YOUR_REGION"] replaces
// "<YOUR_REGION>" and "${YOUR_REGION}" in every string. An error that is not a
// *ValidationError is one of reading.
func Load(paths []string, stdin io.Reader, set map[string]string) ([]Doc, error) {
	if len(paths) == 0 {
		return nil, &ValidationError{[]Problem{{Source: "-f", Message: "no manifest given: -f FILE, -f DIR or -f - (standard input)"}}}
	}
	var docs []Doc
	var problems []Problem
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			var raw []byte
			if f == "-" {
				raw, err = io.ReadAll(stdin)
			} else {
				raw, err = os.ReadFile(f) //nolint:gosec // G304: reading the files the user names is the point
			}
			if err != nil {
				return nil, err
			}
			d, pr := Parse(f, raw, set)
			docs = append(docs, d...)
			problems = append(problems, pr...)
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{problems}
	}
	if len(docs) == 0 {
		return nil, &ValidationError{[]Problem{{Source: strings.Join(paths, ","), Message: "no manifest found"}}}
	}
	Sort(docs)
	return docs, nil
}

// Sort orders docs by kind (Kinds' order), keeping the order within a kind.
func Sort(docs []Doc) {
	sort.SliceStable(docs, func(i, j int) bool { return kindOrder[docs[i].Kind] < kindOrder[docs[j].Kind] })
}

func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{"-"}, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json file", p)
	}
	return out, nil // ReadDir sorts by name
}

// Parse decodes every document of one file (YAML or JSON) and checks each.
func Parse(source string, raw []byte, set map[string]string) ([]Doc, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []Doc
	var problems []Problem
	for i := 1; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		src := source
		if i > 1 || bytes.Contains(raw, []byte("\n---")) {
			src = source + "#" + strconv.Itoa(i)
		}
		if err != nil {
			problems = append(problems, Problem{Source: src, Message: "not YAML or JSON: " + err.Error()})
			break
		}
		var v any
		if err := node.Decode(&v); err != nil {
			problems = append(problems, Problem{Source: src, Message: err.Error()})
			continue
		}
		if v == nil { // an empty document (comments only, or a trailing ---)
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			problems = append(problems, Problem{Source: src, Message: "a manifest is a mapping (apiVersion, kind, spec)"})
			continue
		}
		if set != nil {
			obj = fill(obj, set).(map[string]any)
		}
		d, pr := check(src, obj)
		if len(pr) > 0 {
			problems = append(problems, pr...)
			continue
		}
		docs = append(docs, d)
	}
	return docs, problems
}

// check finds the kind and name and every unfilled placeholder.
func check(src string, obj map[string]any) (Doc, []Problem) {
	d := Doc{Source: src, Object: obj}
	var problems []Problem
	kind, _ := obj["kind"].(string)
	_, hasKind := obj["kind"]
	switch {
	case !hasKind && obj["apiVersion"] == nil && obj["clusterName"] != nil:
		kind = KindCluster // the legacy flat K8sCluster body
	case !hasKind:
		return d, []Problem{{Source: src, Field: "kind", Message: "required (one of " + strings.Join(Kinds(), ", ") + ")"}}
	case !known(kind):
		return d, []Problem{{Source: src, Field: "kind", Message: fmt.Sprintf("unknown kind %q (astroctl applies %s)", obj["kind"], strings.Join(Kinds(), ", "))}}
	}
	d.Kind = kind
	nameField := map[string]string{KindCluster: "clusterName", KindRegistration: "clusterName", KindProfile: "profileName", KindApplication: "name"}[kind]
	prefix := "spec."
	if _, ok := obj["spec"]; !ok && kind == KindCluster && obj["apiVersion"] == nil {
		prefix = ""
	}
	if nameField != "" {
		name, _ := d.Spec()[nameField].(string)
		if name == "" {
			problems = append(problems, Problem{Source: src, Field: prefix + nameField, Message: "required"})
		}
		d.Name = name
	}
	walk("", obj, func(path, s string) {
		if m := placeholder.FindString(s); m != "" {
			problems = append(problems, Problem{Source: src, Field: path, Message: fmt.Sprintf("holds the placeholder %s: fill it in (or pass --set %s=VALUE)", m, placeholderName(m))})
		}
	})
	return d, problems
}

// placeholder matches what the examples leave to fill: <YOUR_REGION>,
// <YOUR_AWS_ACCOUNT_ID>, ${CLUSTER_NAME}.
var placeholder = regexp.MustCompile(`<[A-Z][A-Z0-9_]*>|\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// placeholderName is YOUR_REGION for <YOUR_REGION> and ${YOUR_REGION}.
func placeholderName(m string) string {
	return strings.Trim(m, "<>${}")
}

// walk calls f with each string value and its field path (spec.provisioner.eks.accountId,
// spec.clusterSpec.dataPlane.nodeGroups[0].name).
func walk(path string, v any, f func(path, s string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(p, x[k], f)
		}
	case []any:
		for i, e := range x {
			walk(fmt.Sprintf("%s[%d]", path, i), e, f)
		}
	case string:
		f(path, x)
	}
}

// fill replaces the placeholders set names in every string (a whole-string
// placeholder of a number stays a string: the API decides what it accepts).
func fill(v any, set map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fill(e, set)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fill(e, set)
		}
		return x
	case string:
		return placeholder.ReplaceAllStringFunc(x, func(m string) string {
			if val, ok := set[placeholderName(m)]; ok {
				return val
			}
			return m
		})
	}
	return v
}
