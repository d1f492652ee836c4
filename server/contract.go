package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
)

// contract is openapi.yaml as the server enforces it: each route's operation, its
// security requirement, and the schemas its parameters and body must satisfy.
type contract struct {
	spec *openapi3.T
	ops  map[string]*operation // by "METHOD /echo/path"
}

type operation struct {
	id        string
	method    string
	path      string // as in openapi.yaml, with {params}
	echoPath  string // as Echo routes it, with :params
	public    bool
	optional  bool // anonymous callers pass too (an empty requirement is listed)
	apiKey    bool // an API key satisfies the security requirement
	adminOnly bool // only an org admin's API key does
	bearer    bool // a user's OIDC bearer token satisfies the security requirement
	// role is the least role the caller needs (x-astro-role): authz.LevelPublic,
	// authz.LevelAuthenticated, or a member role. The authorize middleware enforces it.
	role string
	item *openapi3.PathItem
	op   *openapi3.Operation
}

// roleExtension names, on each operation of openapi.yaml, the least role its caller needs.
const roleExtension = "x-astro-role"

func loadContract() (*contract, error) {
	spec, err := api.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded openapi.yaml: %w", err)
	}
	c := &contract{spec: spec, ops: map[string]*operation{}}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{id: op.OperationID, method: method, path: path, echoPath: echoPath(path), item: item, op: op}
			o.role, _ = op.Extensions[roleExtension].(string)
			if !authz.ValidLevel(o.role) {
				return nil, fmt.Errorf("openapi.yaml: %s declares %s %q; want public, authenticated, viewer, editor or admin", o.id, roleExtension, o.role)
			}
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			o.public = len(security) == 0
			for _, req := range security {
				if len(req) == 0 {
					o.optional = true
				}
				for scheme := range req {
					switch scheme {
					case "ApiKeyAuth":
						o.apiKey = true
					case "AdminAuth":
						o.apiKey, o.adminOnly = true, true
					case "BearerAuth":
						o.bearer = true
					}
				}
			}
			c.ops[method+" "+o.echoPath] = o
		}
	}
	return c, nil
}

// echoPath turns /a/{b}/c into Echo's /a/:b/c, as oapi-codegen registers routes.
func echoPath(p string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(p)
}

func (ct *contract) lookup(c echo.Context) (*operation, bool) {
	op, ok := ct.ops[c.Request().Method+" "+c.Path()]
	return op, ok
}

// operations lists every operation of the contract, sorted by path and method.
func (ct *contract) operations() []*operation {
	ops := make([]*operation, 0, len(ct.ops))
	for _, o := range ct.ops {
		ops = append(ops, o)
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	return ops
}

// validate checks a request's parameters and JSON body against its operation in
// openapi.yaml, reporting every fault at once with the field it concerns: unknown
// query parameters too, and, for a body the schema refuses, the faults the rules
// beyond the schema find in it (ruleFaults). The checked body is kept for the
// handler (see bindBody).
func (s *Server) validate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := s.contract.lookup(c)
			if !ok {
				return next(c)
			}
			details := map[string]any{}
			s.contract.checkParams(c, op, details)
			checkUnknownQuery(c, op, details)
			var raw []byte
			if op.op.RequestBody != nil {
				var err error
				if raw, err = readBody(c, op); err != nil {
					return err
				}
				if raw != nil {
					if takesForm(op) {
						checkFormBody(op, raw, details)
					} else {
						checkBody(op, raw, details)
					}
					httpx.SetBody(c, raw)
				}
			}
			if len(details) > 0 {
				if _, malformed := details["body"]; raw != nil && !malformed {
					for path, msg := range s.ruleFaults(c, op.id, raw) {
						if !faulted(details, path) { // a rule would judge a value the schema refused
							details[path] = msg
						}
					}
				}
				return httpx.ValidationFailed(details)
			}
			return next(c)
		}
	}
}

func (ct *contract) checkParams(c echo.Context, op *operation, details map[string]any) {
	pathParams := map[string]string{}
	for i, name := range c.ParamNames() {
		pathParams[name] = c.ParamValues()[i]
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    c.Request(),
		PathParams: pathParams,
		Route: &routers.Route{
			Spec: ct.spec, Path: op.path, PathItem: op.item, Method: op.method, Operation: op.op,
		},
		Options: &openapi3filter.Options{
			ExcludeRequestBody:  true,
			MultiError:          true,
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
		},
	}
	err := openapi3filter.ValidateRequest(c.Request().Context(), input)
	if err == nil {
		return
	}
	var me openapi3.MultiError
	if !errors.As(err, &me) {
		me = openapi3.MultiError{err}
	}
	for _, e := range me {
		var re *openapi3filter.RequestError
		if errors.As(e, &re) && re.Parameter != nil {
			key := re.Parameter.In + "." + re.Parameter.Name
			if re.Parameter.In == openapi3.ParameterInHeader {
				key = "header." + re.Parameter.Name
			}
			details[key] = paramReason(re)
			continue
		}
		details["request"] = e.Error()
	}
}

func paramReason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return se.Reason
	}
	var me openapi3.MultiError
	if errors.As(re.Err, &me) && len(me) > 0 {
		if errors.As(me[0], &se) {
			return se.Reason
		}
	}
	if re.Reason != "" {
		return re.Reason
	}
	if re.Err != nil {
		return re.Err.Error()
	}
	return "invalid"
}

// readBody returns the request body, or nil when there is none and none is required.
func readBody(c echo.Context, op *operation) ([]byte, error) {
	req := c.Request()
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, httpx.NewError(http.StatusRequestEntityTooLarge, httpx.CodePayloadTooLarge,
				fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
		}
		return nil, httpx.BadRequest("could not read the request body", map[string]any{"body": err.Error()})
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	if len(bytes.TrimSpace(raw)) == 0 {
		if op.op.RequestBody.Value != nil && op.op.RequestBody.Value.Required {
			return nil, httpx.BadRequest("request body is required", map[string]any{"body": "required"})
		}
		return nil, nil
	}
	if takesForm(op) {
		// An operation declaring a form body (Slack's interactivity requests) takes that only.
		if mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || mt != mimeForm {
			return nil, httpx.NewError(http.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia, "request body must be "+mimeForm)
		}
		return raw, nil
	}
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, httpx.NewError(http.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia, "request body must be application/json")
		}
	}
	return raw, nil
}

const mimeForm = "application/x-www-form-urlencoded"

// takesForm reports whether op's body is form-encoded rather than JSON.
func takesForm(op *operation) bool {
	rb := op.op.RequestBody
	return rb != nil && rb.Value != nil && rb.Value.Content.Get(mimeForm) != nil && rb.Value.Content.Get("application/json") == nil
}

// checkFormBody validates a form-encoded body against the operation's schema: each
// field once, as a string. The raw body is what the handler gets (a signature may
// cover it byte for byte).
func checkFormBody(op *operation, raw []byte, details map[string]any) {
	values, err := url.ParseQuery(string(raw))
	if err != nil {
		details["body"] = "not form-encoded: " + err.Error()
		return
	}
	value := map[string]any{}
	for k, vs := range values {
		if len(vs) != 1 {
			details["body."+k] = "must be given once"
			continue
		}
		value[k] = vs[0]
	}
	mt := op.op.RequestBody.Value.Content.Get(mimeForm)
	if mt.Schema == nil || mt.Schema.Value == nil {
		return
	}
	err = mt.Schema.Value.VisitJSON(value, openapi3.MultiErrors(), openapi3.VisitAsRequest())
	if err == nil {
		return
	}
	var me openapi3.MultiError
	if !errors.As(err, &me) {
		me = openapi3.MultiError{err}
	}
	for _, e := range me {
		addSchemaError(e, details)
	}
}

// checkBody validates raw against the operation's JSON schema.
func checkBody(op *operation, raw []byte, details map[string]any) {
	var value any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&value); err != nil {
		details["body"] = jsonSyntaxReason(err)
		return
	}
	if dec.More() {
		details["body"] = "unexpected data after the JSON value"
		return
	}
	mt := op.op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return
	}
	findPlaceholders(value, "", details)
	schema := pickBranch(mt.Schema.Value, value)
	err := schema.VisitJSON(value, openapi3.MultiErrors(), openapi3.VisitAsRequest())
	if err == nil {
		return
	}
	var me openapi3.MultiError
	if !errors.As(err, &me) {
		me = openapi3.MultiError{err}
	}
	for _, e := range me {
		addSchemaError(e, details)
	}
}

// pickBranch chooses, for a oneOf of a manifest ({apiVersion, kind, spec}) and its
// legacy flat form, the branch the document is written in, so errors name its
// fields rather than "matches neither alternative".
func pickBranch(schema *openapi3.Schema, value any) *openapi3.Schema {
	if len(schema.OneOf) == 0 {
		return schema
	}
	obj, _ := value.(map[string]any)
	_, hasSpec := obj["spec"]
	_, hasKind := obj["kind"]
	_, hasVersion := obj["apiVersion"]
	manifest := hasSpec || hasKind || hasVersion
	for _, ref := range schema.OneOf {
		s := ref.Value
		if s == nil {
			continue
		}
		_, isManifest := s.Properties["spec"]
		if isManifest == manifest {
			return s
		}
	}
	return schema
}

var placeholder = regexp.MustCompile(`<[A-Z][A-Z0-9_]*>`)

// findPlaceholders reports every string still holding an example placeholder such as
// <YOUR_REGION>, naming its field, before the schema complains about its shape.
func findPlaceholders(value any, path string, details map[string]any) {
	switch v := value.(type) {
	case string:
		if m := placeholder.FindString(v); m != "" {
			if path == "" {
				path = "body"
			}
			details[path] = fmt.Sprintf("still holds the example placeholder %s; fill it in", m)
		}
	case map[string]any:
		for k, item := range v {
			findPlaceholders(item, join(path, k), details)
		}
	case []any:
		for i, item := range v {
			findPlaceholders(item, join(path, strconv.Itoa(i)), details)
		}
	}
}

func addSchemaError(err error, details map[string]any) {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			addSchemaError(e, details)
		}
		return
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		details["body"] = err.Error()
		return
	}
	field := strings.Join(se.JSONPointer(), ".")
	reason := se.Reason
	// Unknown and missing properties are reported on the object; name the property.
	for suffix, short := range map[string]string{"\" is unsupported": "unknown field", "\" is missing": "required"} {
		if name, ok := strings.CutPrefix(reason, "property \""); ok && strings.HasSuffix(name, suffix) {
			name = strings.TrimSuffix(name, suffix)
			if !strings.HasSuffix(field, name) {
				field = join(field, name)
			}
			reason = short
		}
	}
	if field == "" {
		field = "body"
	}
	if _, dup := details[field]; !dup {
		details[field] = reason
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func jsonSyntaxReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		return fmt.Sprintf("malformed JSON at byte %d", typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON: unexpected end of input"
	default:
		return "malformed JSON: " + err.Error()
	}
}

// faulted reports whether details already has a fault of path, of a field inside it,
// or of a field it is inside.
func faulted(details map[string]any, path string) bool {
	for k := range details {
		if k == path || strings.HasPrefix(path, k+".") || strings.HasPrefix(k, path+".") {
			return true
		}
	}
	return false
}

// checkUnknownQuery reports each query parameter the operation does not declare, as an
// unknown body field is: a typo must not pass silently.
func checkUnknownQuery(c echo.Context, op *operation, details map[string]any) {
	var known []string
	for _, params := range []openapi3.Parameters{op.item.Parameters, op.op.Parameters} {
		for _, p := range params {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery && !slices.Contains(known, p.Value.Name) {
				known = append(known, p.Value.Name)
			}
		}
	}
	slices.Sort(known)
	takes := "it takes none"
	if len(known) > 0 {
		takes = "it takes " + strings.Join(known, ", ")
	}
	for name := range c.Request().URL.Query() {
		if !slices.Contains(known, name) {
			details["query."+name] = "unknown query parameter of this operation; " + takes
		}
	}
}
