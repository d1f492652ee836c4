package gkefake

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	compute "google.golang.org/api/compute/v1"
)

var networkRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func networkName(project, name string) string {
	return "projects/" + project + "/global/networks/" + name
}

type computeOpError struct{ Code, Message string }

func (e computeOpError) build() *compute.OperationError {
	return &compute.OperationError{Errors: []*compute.OperationErrorErrors{{Code: e.Code, Message: e.Message}}}
}

// startComputeOp records a running global operation of type typ on target.
func (s *Server) startComputeOp(q *request, project, typ, target string, deletes bool, apply func(ok bool)) *compute.Operation {
	id := fmt.Sprintf("operation-%d-%08x", time.Now().UnixMilli(), s.next())
	name := "projects/" + project + "/global/operations/" + id
	op := &compute.Operation{Name: id, Id: s.seq, Kind: "compute#operation", OperationType: typ, Status: "RUNNING",
		SelfLink: "https://www.googleapis.com/compute/v1/" + name, TargetLink: "https://www.googleapis.com/compute/v1/" + target,
		InsertTime: now(), StartTime: now()}
	s.ops[name] = &operation{gce: op, name: name, target: target, fail: q.opFault, apply: apply, deletes: deletes}
	s.opOrder = append(s.opOrder, name)
	if s.PollsToDone <= 0 {
		s.finish(s.ops[name])
	}
	return op
}

func (s *Server) insertNetwork(q *request) (any, *Error) {
	project := strings.Split(q.rt.parent, "/")[1]
	if id := q.query["requestId"]; len(id) == 1 && id[0] != "" {
		if name, ok := s.requestIDs[project+"/"+id[0]]; ok {
			return s.ops[name].gce, nil // the same request again: the same operation
		}
	}
	var n compute.Network
	if err := q.decode(&n); err != nil {
		return nil, err
	}
	if !networkRE.MatchString(n.Name) {
		return nil, invalid("Invalid value for field 'resource.name': %q. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", n.Name)
	}
	name := networkName(project, n.Name)
	if s.networks[name] != nil {
		return nil, AlreadyExists(fmt.Sprintf("The resource '%s' already exists", name))
	}
	n.Id, n.Kind, n.CreationTimestamp = s.next(), "compute#network", now()
	n.SelfLink = "https://www.googleapis.com/compute/v1/" + name
	net := &n
	s.networks[name] = net
	op := s.startComputeOp(q, project, "insert", name, false, func(ok bool) {
		if !ok && s.networks[name] == net {
			delete(s.networks, name)
		}
	})
	if id := q.query["requestId"]; len(id) == 1 && id[0] != "" {
		s.requestIDs[project+"/"+id[0]] = "projects/" + project + "/global/operations/" + op.Name
	}
	return op, nil
}

func (s *Server) getNetwork(name string) (any, *Error) {
	n := s.networks[name]
	if n == nil {
		return nil, NotFound(fmt.Sprintf("The resource '%s' was not found", name))
	}
	out := *n
	return &out, nil
}

func (s *Server) deleteNetwork(q *request) (any, *Error) {
	name := q.rt.name
	n := s.networks[name]
	if n == nil {
		return nil, NotFound(fmt.Sprintf("The resource '%s' was not found", name))
	}
	project := strings.Split(name, "/")[1]
	for cname, cl := range s.clusters {
		if projectOf(cname) == project && cl.c.Network == n.Name {
			return nil, &Error{Code: 400, Status: "FAILED_PRECONDITION", Reason: "resourceInUseByAnotherResource",
				Message: fmt.Sprintf("The network resource '%s' is already being used by 'projects/%s/global/firewalls/gke-%s-%s-all'", name, project, cl.c.Name, cl.c.Id[:8])}
		}
	}
	return s.startComputeOp(q, project, "delete", name, true, func(ok bool) {
		if ok && s.networks[name] == n {
			delete(s.networks, name)
		}
	}), nil
}
