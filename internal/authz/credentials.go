package authz

import "errors"

// Credential is how a request is authenticated.
type Credential int

// The credentials a request may present.
const (
	// Anonymous: the request goes on without a caller.
	Anonymous Credential = iota
	// ByAPIKey: X-Astro-API-Key authenticates an organization member through a key.
	ByAPIKey
	// ByBearer: an OIDC bearer token authenticates a user.
	ByBearer
)

// Errors of Choose.
var (
	// ErrNoCredentials means an operation that needs a caller got no credential (401).
	ErrNoCredentials = errors.New("missing credentials")
	// ErrBearerRefused means a bearer token came to an operation that takes only API
	// keys (401).
	ErrBearerRefused = errors.New("operation takes an API key, not a bearer token")
)

// Choose decides how a request presenting an API key (hasKey) and/or a bearer
// token (hasBearer) is authenticated under r. A presented API key is always
// checked and authenticates the request, as before bearer tokens existed (clients
// send the Authorization header the reference declares beside it); a bearer token
// alone authenticates where the operation takes bearer tokens and is refused
// elsewhere, never ignored, even where anonymous callers pass.
func (r Requirement) Choose(hasKey, hasBearer bool) (Credential, error) {
	if r.Public {
		return Anonymous, nil
	}
	if hasKey {
		return ByAPIKey, nil
	}
	if hasBearer {
		if !r.Bearer {
			return Anonymous, ErrBearerRefused
		}
		return ByBearer, nil
	}
	if r.Optional {
		return Anonymous, nil
	}
	return Anonymous, ErrNoCredentials
}

// Membership is a user's role in one organization.
type Membership struct {
	OrgID, OrgName, Role string
}

// ErrNotMemberOf means a user named an organization (X-Astro-Organization-ID) they
// are not a member of, or that does not exist (403; the two are not told apart).
var ErrNotMemberOf = errors.New("not a member of the organization named")

// UserOrg is the organization a user's request acts for: the one named (by ID or
// name) if any, which must be among memberships; otherwise the active one while
// the user is still a member there; otherwise the first membership (memberships
// are sorted by name); found is false for a user with no membership at all.
func UserOrg(memberships []Membership, active, named string) (m Membership, found bool, err error) {
	if named != "" {
		for _, m := range memberships {
			if m.OrgID == named || m.OrgName == named {
				return m, true, nil
			}
		}
		return Membership{}, false, ErrNotMemberOf
	}
	for _, m := range memberships {
		if m.OrgID == active {
			return m, true, nil
		}
	}
	if len(memberships) > 0 {
		return memberships[0], true, nil
	}
	return Membership{}, false, nil
}
