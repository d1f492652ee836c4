package wiffake

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errAlreadyExists is a create of something that exists (gcloud exits 1).
var errAlreadyExists = errors.New("ALREADY_EXISTS")

// Run does what running a setup script with gcloud does to this fake: comments,
// set, echo and services enable do nothing; cat > FILE <<'EOF' … EOF writes a file
// later commands read (--jwk-json-path); A || B runs B when A fails; the gcloud
// commands of workload identity pools, their OIDC providers, service accounts and
// IAM policy bindings change the state. Any other command, unknown flag or failure
// stops it with an error (set -e).
func (s *Server) Run(script string) error {
	lines := strings.Split(script, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "set ") || strings.HasPrefix(line, "echo "):
			continue
		case strings.HasPrefix(line, "cat > "):
			file, marker, ok := strings.Cut(strings.TrimPrefix(line, "cat > "), " <<")
			marker = strings.Trim(marker, `'"`)
			if !ok || marker == "" {
				return fmt.Errorf("line %d: cannot read %q", i+1, line)
			}
			var body []string
			for i++; i < len(lines) && lines[i] != marker; i++ {
				body = append(body, lines[i])
			}
			s.mu.Lock()
			s.files[file] = strings.Join(body, "\n")
			s.mu.Unlock()
			continue
		}
		var err error
		for _, alt := range splitOr(line) {
			if err = s.gcloud(alt); err == nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return nil
}

// splitOr splits a command line on || outside quotes.
func splitOr(line string) []string {
	var out []string
	var q rune
	start := 0
	for i, r := range line {
		switch {
		case q != 0 && r == q:
			q = 0
		case q == 0 && (r == '\'' || r == '"'):
			q = r
		case q == 0 && r == '|' && strings.HasPrefix(line[i:], "||"):
			out = append(out, line[start:i])
			start = i + 2
		}
	}
	return append(out, line[start:])
}

// words splits a command into words as a shell does, with single and double quotes.
func words(cmd string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var q rune
	in := false
	for _, r := range cmd {
		switch {
		case q != 0 && r == q:
			q = 0
		case q != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			q, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if q != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", cmd)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// gcloud runs one gcloud command.
func (s *Server) gcloud(cmd string) error {
	w, err := words(cmd)
	if err != nil {
		return err
	}
	var pos []string
	flags := map[string]string{}
	for _, a := range w {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			flags[strings.TrimPrefix(k, "--")] = v
		} else if strings.HasPrefix(a, "--") {
			return fmt.Errorf("flag %s without =value is not understood by this fake", a)
		} else {
			pos = append(pos, a)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	verb := strings.Join(pos[:min(len(pos), 4)], " ")
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	number := func() (string, error) {
		n, ok := s.projects[flags["project"]]
		if !ok {
			return "", fmt.Errorf("NOT_FOUND: project %q", flags["project"])
		}
		return n, nil
	}
	switch {
	case verb == "gcloud services enable "+arg(3):
		return nil
	case strings.HasPrefix(verb, "gcloud iam workload-identity-pools create"), strings.HasPrefix(verb, "gcloud iam workload-identity-pools describe"):
		n, err := number()
		if err != nil {
			return err
		}
		if flags["location"] != "global" {
			return fmt.Errorf("INVALID_ARGUMENT: location %q", flags["location"])
		}
		name := "projects/" + n + "/locations/global/workloadIdentityPools/" + arg(4)
		if pos[3] == "describe" {
			if !s.pools[name] {
				return fmt.Errorf("NOT_FOUND: %s", name)
			}
			return nil
		}
		if s.pools[name] {
			return fmt.Errorf("%s: %w", name, errAlreadyExists)
		}
		s.pools[name] = true
		return nil
	case verb == "gcloud iam workload-identity-pools providers":
		n, err := number()
		if err != nil {
			return err
		}
		pool := "projects/" + n + "/locations/global/workloadIdentityPools/" + flags["workload-identity-pool"]
		if !s.pools[pool] {
			return fmt.Errorf("NOT_FOUND: %s", pool)
		}
		name := pool + "/providers/" + arg(5)
		switch arg(4) {
		case "create-oidc":
			if s.providers[name] != nil {
				return fmt.Errorf("%s: %w", name, errAlreadyExists)
			}
		case "update-oidc":
			if s.providers[name] == nil {
				return fmt.Errorf("NOT_FOUND: %s", name)
			}
		default:
			return fmt.Errorf("gcloud iam workload-identity-pools providers %s is not understood by this fake", arg(4))
		}
		p := &Provider{Name: name, Issuer: flags["issuer-uri"], Condition: flags["attribute-condition"], Mapping: map[string]string{}}
		for _, m := range strings.Split(flags["attribute-mapping"], ",") {
			if k, v, ok := strings.Cut(m, "="); ok {
				p.Mapping[k] = v
			}
		}
		if f := flags["jwk-json-path"]; f != "" {
			if err := json.Unmarshal([]byte(s.files[f]), &p.JWKS); err != nil {
				return fmt.Errorf("INVALID_ARGUMENT: --jwk-json-path %s: %w", f, err)
			}
		}
		if p.Issuer == "" || p.Mapping["google.subject"] == "" {
			return errors.New("INVALID_ARGUMENT: an OIDC provider needs --issuer-uri and a google.subject mapping")
		}
		s.providers[name] = p
		return nil
	case strings.HasPrefix(verb, "gcloud iam service-accounts create"):
		if _, err := number(); err != nil {
			return err
		}
		email := arg(4) + "@" + flags["project"] + ".iam.gserviceaccount.com"
		if s.accounts[email] != nil {
			return fmt.Errorf("%s: %w", email, errAlreadyExists)
		}
		s.accounts[email] = &account{project: flags["project"]}
		return nil
	case strings.HasPrefix(verb, "gcloud iam service-accounts describe"):
		if s.accounts[arg(4)] == nil {
			return fmt.Errorf("NOT_FOUND: %s", arg(4))
		}
		return nil
	case strings.HasPrefix(verb, "gcloud iam service-accounts add-iam-policy-binding"):
		a := s.accounts[arg(4)]
		if a == nil {
			return fmt.Errorf("NOT_FOUND: %s", arg(4))
		}
		b := Binding{Role: flags["role"], Member: flags["member"]}
		if !strings.HasPrefix(b.Member, "principal://") && !strings.HasPrefix(b.Member, "principalSet://") &&
			!strings.HasPrefix(b.Member, "serviceAccount:") && !strings.HasPrefix(b.Member, "user:") {
			return fmt.Errorf("INVALID_ARGUMENT: member %q", b.Member)
		}
		if !contains(a.bindings, b) {
			a.bindings = append(a.bindings, b)
			a.propagating = s.Propagation
		}
		return nil
	case strings.HasPrefix(verb, "gcloud projects add-iam-policy-binding"):
		if _, ok := s.projects[arg(3)]; !ok {
			return fmt.Errorf("NOT_FOUND: project %q", arg(3))
		}
		b := Binding{Role: flags["role"], Member: flags["member"]}
		if !strings.HasPrefix(b.Role, "roles/") || b.Member == "" {
			return fmt.Errorf("INVALID_ARGUMENT: binding %v", b)
		}
		if !contains(s.roles[arg(3)], b) {
			s.roles[arg(3)] = append(s.roles[arg(3)], b)
		}
		return nil
	}
	return fmt.Errorf("%q is not a command this fake understands", cmd)
}

func contains(bs []Binding, b Binding) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}
