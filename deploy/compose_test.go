package deploy_test

import (
	"cmp"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Paths are relative to this package's directory, where go test runs.
const (
	composePath    = "../docker-compose.yml"
	dockerfilePath = "../Dockerfile"
	initSQLPath    = "postgres/init.sql"
)

// configSources are the files whose `env:"NAME"` struct tags are the ASTRO_*
// variables each process reads.
var configSources = map[string][]string{
	"api":    {"../cmd/api/main.go", "../internal/config/config.go"},
	"worker": {"../cmd/worker/main.go", "../internal/config/config.go"},
}

// searchAttributes are the custom search attributes the workflows set (the same
// list scripts/run.sh gives the dev server).
var searchAttributes = map[string]string{
	"AstroOrgID":         "Keyword",
	"AstroClusterName":   "Keyword",
	"AstroOperationType": "Keyword",
	"AstroProvider":      "Keyword",
}

// ---- docker-compose.yml model --------------------------------------------------

type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string       `yaml:"image"`
	Build       *buildSpec   `yaml:"build"`
	Entrypoint  stringList   `yaml:"entrypoint"`
	Command     stringList   `yaml:"command"`
	Environment environment  `yaml:"environment"`
	Ports       []string     `yaml:"ports"`
	Volumes     []string     `yaml:"volumes"`
	DependsOn   dependsOn    `yaml:"depends_on"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
	Restart     string       `yaml:"restart"`
}

type healthcheck struct {
	Test    stringList `yaml:"test"`
	Disable bool       `yaml:"disable"`
}

// buildSpec is `build: DIR` or `build: {context: DIR, dockerfile: FILE}`.
type buildSpec struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain buildSpec
	return n.Decode((*plain)(b))
}

// stringList is a string or a list of strings (entrypoint, command, healthcheck test).
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = stringList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// environment is a mapping or a list of NAME=VALUE (merge keys resolved).
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*e = environment{}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	*e = m
	return nil
}

// dependsOn maps each dependency to its condition (list form: service_started).
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for name, dep := range m {
		cond := dep.Condition
		if cond == "" {
			cond = "service_started"
		}
		(*d)[name] = cond
	}
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatalf("read %s: %v", composePath, err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("parse %s: %v", composePath, err)
	}
	if len(c.Services) == 0 {
		t.Fatalf("%s: no services", composePath)
	}
	return c
}

// svc returns the named service or stops the test.
func (c composeFile) svc(t *testing.T, name string) service {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("%s: no service %q (have %v)", composePath, name, sortedKeys(c.Services))
	}
	return s
}

// interpolateRe matches what Compose substitutes: $$, ${VAR}, ${VAR:-default},
// ${VAR-default}, $VAR.
var interpolateRe = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate resolves s the way Compose does when none of its variables is set.
func interpolate(s string) string {
	return interpolateRe.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := interpolateRe.FindStringSubmatch(m)
		return sub[2] // the default, or "" for ${VAR} and $VAR
	})
}

// published maps each published host port of s to its container port.
func published(t *testing.T, name string, s service) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range s.Ports {
		spec, _, _ := strings.Cut(p, "/") // drop /tcp
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 2: // HOST:CONTAINER
			out[parts[0]] = parts[1]
		case 3: // IP:HOST:CONTAINER
			out[parts[1]] = parts[2]
		default:
			t.Errorf("service %q: port %q does not publish a host port (want HOST:CONTAINER)", name, p)
		}
	}
	return out
}

// ---- compose tests ---------------------------------------------------------------

func TestComposeUsageComment(t *testing.T) {
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var header strings.Builder
	for line := range strings.Lines(string(raw)) {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line)
	}
	for _, want := range []string{"docker compose up --build", "http://localhost:8080", "http://localhost:8233", "ASTRO_BOOTSTRAP_API_KEY", "docker compose logs api",
		"127.0.0.1", "ssh -N -L 8233:127.0.0.1:8233"} {
		if !strings.Contains(header.String(), want) {
			t.Errorf("%s: the opening comment should say how to use the stack; it does not mention %q", composePath, want)
		}
	}
}

func TestComposeServicesAndImages(t *testing.T) {
	c := loadCompose(t)
	tests := []struct {
		service string
		image   *regexp.Regexp // nil: built from the Dockerfile
	}{
		{"postgres", regexp.MustCompile(`^postgres:15([.-]|$)`)},
		{"temporal", regexp.MustCompile(`^temporalio/auto-setup:\d+\.\d+\.\d+$`)},
		{"temporal-setup", regexp.MustCompile(`^temporalio/admin-tools:\d+\.\d+\.\d+`)},
		{"temporal-ui", regexp.MustCompile(`^temporalio/ui:\d+\.\d+\.\d+$`)},
		{"api", nil},
		{"worker", nil},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := c.svc(t, tt.service)
			if tt.image == nil {
				if s.Build == nil {
					t.Fatalf("service %q: no build section; it must build from the Dockerfile", tt.service)
				}
				return
			}
			if !tt.image.MatchString(s.Image) {
				t.Errorf("service %q: image %q, want one matching %s (pinned tag)", tt.service, s.Image, tt.image)
			}
		})
	}
	if len(c.Services) != len(tests) {
		t.Logf("note: %s has %d services, the test knows %d: %v", composePath, len(c.Services), len(tests), sortedKeys(c.Services))
	}
}

func TestComposePostgres(t *testing.T) {
	c := loadCompose(t)
	pg := c.svc(t, "postgres")
	for _, k := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
		if interpolate(pg.Environment[k]) == "" {
			t.Errorf("postgres: %s is not set", k)
		}
	}
	if pg.Healthcheck == nil || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("postgres: healthcheck should run pg_isready, got %+v", pg.Healthcheck)
	}

	var hasData, hasInit bool
	for _, v := range pg.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		switch {
		case dst == "/var/lib/postgresql/data" || strings.HasPrefix(dst, "/var/lib/postgresql/data:"):
			hasData = true
			if _, named := c.Volumes[src]; !named {
				t.Errorf("postgres: data volume %q is not a named volume (top-level volumes: %v)", src, sortedKeys(c.Volumes))
			}
		case path.Clean(src) == "deploy/postgres/init.sql" && strings.HasPrefix(dst, "/docker-entrypoint-initdb.d/"):
			hasInit = true
		}
	}
	if !hasData {
		t.Errorf("postgres: no volume on /var/lib/postgresql/data: %v", pg.Volumes)
	}
	if !hasInit {
		t.Errorf("postgres: ./deploy/postgres/init.sql is not mounted into /docker-entrypoint-initdb.d/: %v", pg.Volumes)
	}
}

func TestComposeTemporalOnPostgres(t *testing.T) {
	c := loadCompose(t)
	pg, tmp := c.svc(t, "postgres"), c.svc(t, "temporal")

	tests := []struct{ key, want string }{
		{"DB", "postgres12"},
		{"DB_PORT", "5432"},
		{"POSTGRES_SEEDS", "postgres"},
		{"POSTGRES_USER", pg.Environment["POSTGRES_USER"]},
		{"POSTGRES_PWD", pg.Environment["POSTGRES_PASSWORD"]},
		{"DBNAME", "temporal"},
		{"VISIBILITY_DBNAME", "temporal_visibility"},
	}
	for _, tt := range tests {
		if got := tmp.Environment[tt.key]; got != tt.want {
			t.Errorf("temporal: %s=%q, want %q", tt.key, got, tt.want)
		}
	}
	if _, ok := c.Services[tmp.Environment["POSTGRES_SEEDS"]]; !ok {
		t.Errorf("temporal: POSTGRES_SEEDS=%q is not a service of the file", tmp.Environment["POSTGRES_SEEDS"])
	}
	if got := tmp.DependsOn["postgres"]; got != "service_healthy" {
		t.Errorf("temporal: depends_on postgres with condition %q, want service_healthy", got)
	}
	if tmp.Healthcheck == nil || tmp.Healthcheck.Disable || len(tmp.Healthcheck.Test) == 0 {
		t.Errorf("temporal: needs a healthcheck (the api, worker and setup wait for it), got %+v", tmp.Healthcheck)
	}
	if got := published(t, "temporal", tmp)["7233"]; got != "7233" {
		t.Errorf("temporal: host port 7233 published to %q, want 7233", got)
	}

	// The databases Temporal uses are the ones init.sql creates.
	sql, err := os.ReadFile(initSQLPath)
	if err != nil {
		t.Fatalf("read %s: %v", initSQLPath, err)
	}
	created := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?i)CREATE\s+DATABASE\s+"?([A-Za-z0-9_]+)"?`).FindAllStringSubmatch(string(sql), -1) {
		created[m[1]] = true
	}
	for _, k := range []string{"DBNAME", "VISIBILITY_DBNAME"} {
		if db := tmp.Environment[k]; !created[db] {
			t.Errorf("%s does not create database %q (temporal's %s); it creates %v", initSQLPath, db, k, sortedKeys(created))
		}
	}
}

func TestComposeTemporalUI(t *testing.T) {
	c := loadCompose(t)
	ui := c.svc(t, "temporal-ui")
	if got := published(t, "temporal-ui", ui)["8233"]; got != "8080" {
		t.Errorf("temporal-ui: host port 8233 published to container port %q, want 8080 (the UI's port)", got)
	}
	if got := ui.Environment["TEMPORAL_ADDRESS"]; got != "temporal:7233" {
		t.Errorf("temporal-ui: TEMPORAL_ADDRESS=%q, want temporal:7233", got)
	}
}

// bindAddress returns the host address a short-syntax port spec publishes on ("" for
// every interface): "8080:8080", "8080", "127.0.0.1:8233:8080", "[::1]:7233:7233".
func bindAddress(spec string) string {
	spec, _, _ = strings.Cut(interpolate(spec), "/") // drop /tcp
	if strings.HasPrefix(spec, "[") {
		host, _, _ := strings.Cut(strings.TrimPrefix(spec, "["), "]")
		return host
	}
	if parts := strings.Split(spec, ":"); len(parts) == 3 {
		return parts[0]
	}
	return ""
}

// Only the API, which authenticates every request, is published to the network:
// Temporal's frontend and Web UI have no authentication in this file, so they (and
// any other service's ports) are bound to loopback.
func TestComposePublishesOnlyTheAPIToTheNetwork(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		for _, p := range c.Services[name].Ports {
			addr := bindAddress(p)
			ip := net.ParseIP(addr)
			loopback := ip != nil && ip.IsLoopback()
			if name != "api" && !loopback {
				t.Errorf("service %q publishes %q on %s: bind it to 127.0.0.1 (HOST_IP:HOST:CONTAINER) and reach it through an SSH tunnel",
					name, p, cmp.Or(addr, "every interface"))
			}
		}
	}
	for _, name := range []string{"temporal", "temporal-ui"} {
		if ports := c.svc(t, name).Ports; len(ports) == 0 {
			t.Errorf("service %q publishes nothing; the file's comment promises it on localhost", name)
		}
	}
	if ports := c.svc(t, "api").Ports; len(ports) == 0 || bindAddress(ports[0]) != "" {
		t.Errorf("api: ports %v, want 8080 published on every interface", ports)
	}
}

func TestBindAddress(t *testing.T) {
	for spec, want := range map[string]string{
		"8080:8080": "", "8080": "", "127.0.0.1:8233:8080": "127.0.0.1", "[::1]:7233:7233": "::1",
		"0.0.0.0:7233:7233/tcp": "0.0.0.0", "${BIND:-127.0.0.1}:8233:8080": "127.0.0.1",
	} {
		if got := bindAddress(spec); got != want {
			t.Errorf("bindAddress(%q) = %q, want %q", spec, got, want)
		}
	}
}

func TestComposeSearchAttributes(t *testing.T) {
	c := loadCompose(t)
	setup, api := c.svc(t, "temporal-setup"), c.svc(t, "api")
	if setup.Restart != "no" {
		t.Errorf(`temporal-setup: restart %q, want "no" (one-shot)`, setup.Restart)
	}
	if got := setup.DependsOn["temporal"]; got != "service_healthy" {
		t.Errorf("temporal-setup: depends_on temporal with condition %q, want service_healthy", got)
	}

	script := interpolate(strings.Join(append(slices.Clone(setup.Entrypoint), setup.Command...), "\n"))
	flagRe := regexp.MustCompile(`--(name|type|namespace|address)[ =](\S+)`)
	registered := map[string]string{}
	for _, line := range regexp.MustCompile(`temporal operator search-attribute create[^\n;&|]*`).FindAllString(script, -1) {
		var names []string
		var typ string
		for _, m := range flagRe.FindAllStringSubmatch(line, -1) {
			switch m[1] {
			case "name":
				names = append(names, m[2])
			case "type":
				typ = m[2]
			case "namespace":
				if want := api.Environment["ASTRO_TEMPORAL_NAMESPACE"]; m[2] != want {
					t.Errorf("temporal-setup: %q uses namespace %q, the api uses %q", line, m[2], want)
				}
			case "address":
				if want := api.Environment["ASTRO_TEMPORAL_ADDRESS"]; m[2] != want {
					t.Errorf("temporal-setup: %q uses address %q, the api uses %q", line, m[2], want)
				}
			}
		}
		for _, n := range names {
			registered[n] = typ
		}
	}
	for name, typ := range searchAttributes {
		got, ok := registered[name]
		switch {
		case !ok:
			t.Errorf("temporal-setup does not register search attribute %s (registers %v)", name, registered)
		case got != typ:
			t.Errorf("temporal-setup registers %s as %q, want %s", name, got, typ)
		}
	}
}

func TestComposeAPIAndWorker(t *testing.T) {
	c := loadCompose(t)
	pg := c.svc(t, "postgres")
	tests := []struct {
		service    string
		entrypoint string
		port       string // published host port = container port; "" for none
	}{
		{"api", "/usr/local/bin/api", "8080"},
		{"worker", "/usr/local/bin/worker", ""},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := c.svc(t, tt.service)
			if s.Build == nil {
				t.Fatalf("%s: no build section", tt.service)
			}
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			if s.Build.Context != "." || df != "Dockerfile" {
				t.Errorf("%s: builds context %q dockerfile %q, want the repository's Dockerfile (context .)", tt.service, s.Build.Context, df)
			}
			if got := strings.Join(s.Entrypoint, " "); got != tt.entrypoint {
				t.Errorf("%s: entrypoint %q, want %q", tt.service, got, tt.entrypoint)
			}

			ports := published(t, tt.service, s)
			if tt.port != "" {
				if got := ports[tt.port]; got != tt.port {
					t.Errorf("%s: host port %s published to container port %q, want %s", tt.service, tt.port, got, tt.port)
				}
				_, listen, err := net.SplitHostPort(s.Environment["ASTRO_HTTP_ADDR"])
				if err != nil || listen != tt.port {
					t.Errorf("%s: ASTRO_HTTP_ADDR=%q does not listen on the published port %s", tt.service, s.Environment["ASTRO_HTTP_ADDR"], tt.port)
				}
			} else if len(ports) > 0 {
				t.Errorf("%s: publishes %v, but it serves nothing", tt.service, ports)
			}

			rawURL := s.Environment["ASTRO_DATABASE_URL"]
			u, err := url.Parse(interpolate(rawURL))
			if err != nil {
				t.Fatalf("%s: ASTRO_DATABASE_URL=%q: %v", tt.service, rawURL, err)
			}
			pw, _ := u.User.Password()
			dbChecks := []struct{ what, got, want string }{
				{"scheme", u.Scheme, "postgres"},
				{"host", u.Hostname(), "postgres"},
				{"port", u.Port(), "5432"},
				{"user", u.User.Username(), interpolate(pg.Environment["POSTGRES_USER"])},
				{"password", pw, interpolate(pg.Environment["POSTGRES_PASSWORD"])},
				{"database", strings.TrimPrefix(u.Path, "/"), interpolate(pg.Environment["POSTGRES_DB"])},
			}
			for _, ck := range dbChecks {
				if ck.got != ck.want {
					t.Errorf("%s: ASTRO_DATABASE_URL=%q: %s %q, want %q (the postgres service)", tt.service, rawURL, ck.what, ck.got, ck.want)
				}
			}
			if !strings.Contains(rawURL, pg.Environment["POSTGRES_PASSWORD"]) {
				t.Errorf("%s: ASTRO_DATABASE_URL=%q does not carry postgres's POSTGRES_PASSWORD %q", tt.service, rawURL, pg.Environment["POSTGRES_PASSWORD"])
			}
			if got := s.Environment["ASTRO_TEMPORAL_ADDRESS"]; got != "temporal:7233" {
				t.Errorf("%s: ASTRO_TEMPORAL_ADDRESS=%q, want temporal:7233", tt.service, got)
			}

			deps := []struct{ name, cond string }{
				{"postgres", "service_healthy"},
				{"temporal", "service_healthy"},
				{"temporal-setup", "service_completed_successfully"},
			}
			for _, d := range deps {
				if got, ok := s.DependsOn[d.name]; !ok || got != d.cond {
					t.Errorf("%s: depends_on %s = %q, want condition %s", tt.service, d.name, got, d.cond)
				}
			}
		})
	}
}

func TestComposeWorkerSharesAPIEnvironment(t *testing.T) {
	c := loadCompose(t)
	api, worker := c.svc(t, "api"), c.svc(t, "worker")
	for _, k := range []string{"ASTRO_DATABASE_URL", "ASTRO_TEMPORAL_ADDRESS", "ASTRO_TEMPORAL_NAMESPACE", "ASTRO_TASK_QUEUE"} {
		a, w := api.Environment[k], worker.Environment[k]
		if a == "" {
			t.Errorf("api: %s is not set", k)
		}
		if a != w {
			t.Errorf("%s: api has %q, worker has %q; they must share the store and the Temporal task queue", k, a, w)
		}
	}
	if api.Image != worker.Image || (api.Build == nil) != (worker.Build == nil) ||
		(api.Build != nil && *api.Build != *worker.Build) {
		t.Errorf("api and worker should run the same image: api image %q build %+v, worker image %q build %+v",
			api.Image, api.Build, worker.Image, worker.Build)
	}
}

// envTagRe finds the variables a config struct reads (caarlos0/env tags).
var envTagRe = regexp.MustCompile(`env:"([A-Za-z_][A-Za-z0-9_]*)[",]`)

func readVariables(t *testing.T, files []string) map[string]bool {
	t.Helper()
	vars := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		ms := envTagRe.FindAllStringSubmatch(string(src), -1)
		if len(ms) == 0 {
			t.Fatalf("%s has no env:\"NAME\" struct tags; update configSources in this test", f)
		}
		for _, m := range ms {
			vars[m[1]] = true
		}
	}
	return vars
}

func TestComposeSetsOnlyVariablesTheProcessesRead(t *testing.T) {
	c := loadCompose(t)
	read := map[string]map[string]bool{}
	all := map[string]bool{}
	for proc, files := range configSources {
		read[proc] = readVariables(t, files)
		for v := range read[proc] {
			all[v] = true
		}
	}
	for _, name := range sortedKeys(c.Services) {
		known, who := all, "either process"
		if r, ok := read[name]; ok {
			known, who = r, "the "+name+" process ("+strings.Join(configSources[name], ", ")+")"
		}
		for _, k := range sortedKeys(c.Services[name].Environment) {
			if strings.HasPrefix(k, "ASTRO_") && !known[k] {
				t.Errorf("service %q sets %s, which %s does not read (renamed or misspelt?); it reads %v", name, k, who, sortedKeys(known))
			}
		}
	}
}

// ---- Dockerfile ----------------------------------------------------------------

type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, …
	args string
	line int
}

type stage struct {
	image, name string
	instrs      []instruction
}

// parseDockerfile splits the Dockerfile into stages of instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read %s: %v", dockerfilePath, err)
	}
	var (
		stages  []stage
		cur     strings.Builder
		startAt int
	)
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: startAt}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			var st stage
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.name = f[i+1]
					i++
				case st.image == "":
					st.image = f[i]
				}
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", dockerfilePath, in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	for i, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			startAt = i + 1
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", dockerfilePath)
	}
	return stages
}

func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last returns the arguments of the stage's last cmd instruction ("" if none).
func (s stage) last(cmd string) string {
	ins := s.find(cmd)
	if len(ins) == 0 {
		return ""
	}
	return ins[len(ins)-1].args
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%s: %d stage(s), want a build stage and a runtime stage", dockerfilePath, len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("build stage", func(t *testing.T) {
		if !regexp.MustCompile(`^golang:1\.26([.-]|$)`).MatchString(build.image) {
			t.Errorf("first stage FROM %q, want golang:1.26…", build.image)
		}
		if build.name == "" {
			t.Errorf("build stage FROM %s has no AS name for COPY --from", build.image)
		}
		var env strings.Builder
		for _, in := range append(build.find("ENV"), build.find("ARG")...) {
			env.WriteString(in.args + " ")
		}
		for _, want := range []string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"} {
			if !strings.Contains(env.String(), want) {
				t.Errorf("build stage does not set %s (ENV: %q)", want, env.String())
			}
		}

		downloadAt, buildAt := -1, -1
		built := map[string]bool{}
		for i, in := range build.instrs {
			if in.cmd != "RUN" {
				continue
			}
			if downloadAt < 0 && strings.Contains(in.args, "go mod download") {
				downloadAt = i
			}
			for _, m := range regexp.MustCompile(`go build ([^&;|]*)`).FindAllStringSubmatch(in.args, -1) {
				if buildAt < 0 {
					buildAt = i
				}
				if !strings.Contains(m[1], "-trimpath") {
					t.Errorf("%s:%d: `go build %s` without -trimpath", dockerfilePath, in.line, m[1])
				}
				for _, f := range strings.Fields(m[1]) {
					if strings.HasPrefix(f, "./cmd/") {
						built[f] = true
					}
				}
			}
		}
		for _, pkg := range []string{"./cmd/api", "./cmd/worker"} {
			if !built[pkg] {
				t.Errorf("build stage does not go build %s (builds %v)", pkg, sortedKeys(built))
			}
		}
		if downloadAt < 0 || buildAt < 0 || downloadAt > buildAt {
			t.Errorf("build stage should RUN go mod download (its own cached layer) before go build; at %d and %d", downloadAt, buildAt)
		}
	})

	t.Run("runtime stage", func(t *testing.T) {
		if !strings.HasPrefix(final.image, "gcr.io/distroless/") {
			t.Errorf("final stage FROM %q, want a gcr.io/distroless/ image", final.image)
		}
		if got := final.last("USER"); got != "nonroot" {
			t.Errorf("final stage USER %q, want nonroot", got)
		}
		if got := final.last("ENTRYPOINT"); got != `["/usr/local/bin/api"]` {
			t.Errorf(`final stage ENTRYPOINT %q, want ["/usr/local/bin/api"]`, got)
		}
		var exposed []string
		for _, in := range final.find("EXPOSE") {
			exposed = append(exposed, strings.Fields(in.args)...)
		}
		if !slices.Contains(exposed, "8080") && !slices.Contains(exposed, "8080/tcp") {
			t.Errorf("final stage EXPOSE %v, want 8080", exposed)
		}
		var copied []string
		for _, in := range final.find("COPY") {
			if strings.Contains(in.args, "--from="+build.name) {
				copied = append(copied, in.args)
			}
		}
		for _, bin := range []string{"api", "worker"} {
			if !slices.ContainsFunc(copied, func(args string) bool {
				f := strings.Fields(args)
				dst := f[len(f)-1]
				return (dst == "/usr/local/bin/" || dst == "/usr/local/bin/"+bin) &&
					slices.ContainsFunc(f[:len(f)-1], func(src string) bool { return path.Base(src) == bin })
			}) {
				t.Errorf("final stage does not COPY --from=%s the %s binary into /usr/local/bin (COPY: %v)", build.name, bin, copied)
			}
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
