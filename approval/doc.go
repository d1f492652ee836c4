// Package approval signs and verifies the single-use links that carry an approval
// decision (or an unsubscribe request) out of an email or Slack message, and renders
// the confirmation page those links open.
//
// A link only ever shows a page: mail systems and chat previews open links to scan
// them, so a GET must never act. The page posts the decision back with the token.
//
// Tokens are authenticated, not encrypted: their claims (org, cluster, operation,
// approver) are readable by whoever holds the link. Single use is the caller's job:
// record [Claims.Nonce] when a token is used and refuse a nonce seen before.
package approval
