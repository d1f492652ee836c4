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
	// ByBoth: the request carries both, and both must be checked and name the same
	// user; it then acts as the key (its organization and role).
	ByBoth
)

// Errors of Choose.
var (
	// ErrNoCredentials means an operation that needs a caller got no credential (401).
	ErrNoCredentials = errors.New("missing credentials")
	// ErrBearerRefused means a bearer token came to an operation that takes only API
	// keys (401).
	ErrBearerRefused = errors.New("operation takes an API key, not a bearer token")
	// ErrKeyRefused means an API key came, beside a bearer token, to an operation that
	// takes only bearer tokens (401).
	ErrKeyRefused = errors.New("operation takes a bearer token, not an API key")
)

// Choose decides how a request presenting an API key (hasKey) and/or a bearer
// token (hasBearer) is authenticated under r. No credential is ever ignored, even
// where anonymous callers pass: a bearer token where the operation takes none is
// refused (ErrBearerRefused); a request carrying both is ByBoth where the operation
// takes both (the caller checks both and that they name one user), and refused
// where it takes only bearer tokens (ErrKeyRefused). A key alone is always checked
// (ByAPIKey; operations taking only bearer tokens refuse it in their handler).
func (r Requirement) Choose(hasKey, hasBearer bool) (Credential, error) {
	if r.Public {
		return Anonymous, nil
	}
	if hasBearer && !r.Bearer {
		return Anonymous, ErrBearerRefused
	}
	if hasKey && hasBearer {
		if !r.APIKey {
			return Anonymous, ErrKeyRefused
		}
		return ByBoth, nil
	}
	if hasKey {
		return ByAPIKey, nil
	}
	if hasBearer {
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
