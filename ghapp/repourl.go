package ghapp

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

var ghName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// ParseRepoURL reads a repository's owner and name from any of GitHub's forms:
// https://HOST/owner/name(.git)(/…), http(s) with a trailing slash, ssh
// (git@HOST:owner/name.git, ssh://git@HOST/owner/name.git), or owner/name. Owner
// and name come back lower-cased (GitHub's names are case-insensitive), so every
// form of one repository is the same pair.
func ParseRepoURL(raw string) (owner, name string, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", errors.New("is required")
	}
	var path string
	switch {
	case strings.Contains(s, "://"):
		u, perr := url.Parse(s)
		if perr != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh" && u.Scheme != "git") {
			return "", "", errors.New("is not a repository URL (https://github.com/OWNER/NAME or git@github.com:OWNER/NAME.git)")
		}
		path = u.Path
	case strings.HasPrefix(s, "git@"):
		_, after, ok := strings.Cut(s, ":")
		if !ok {
			return "", "", errors.New("is not a repository URL")
		}
		path = after
	default:
		path = s
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 {
		return "", "", errors.New("names no OWNER/NAME")
	}
	owner, name = parts[0], strings.TrimSuffix(parts[1], ".git")
	if !ghName.MatchString(owner) || !ghName.MatchString(name) || name == "." || name == ".." {
		return "", "", errors.New("names no valid OWNER/NAME")
	}
	return strings.ToLower(owner), strings.ToLower(name), nil
}

// RepoURLHost is the host a repository URL names ("" for the OWNER/NAME form),
// lower-cased and without a leading www.
func RepoURLHost(raw string) string {
	s := strings.TrimSpace(raw)
	host := ""
	switch {
	case strings.Contains(s, "://"):
		if u, err := url.Parse(s); err == nil {
			host = u.Hostname()
		}
	case strings.HasPrefix(s, "git@"):
		host, _, _ = strings.Cut(strings.TrimPrefix(s, "git@"), ":")
	}
	return strings.TrimPrefix(strings.ToLower(host), "www.")
}
