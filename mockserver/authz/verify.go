package authz

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification failures. Verify wraps exactly one of them, so callers can
// report the reason with errors.Is and, via Reason, as a short word.
var (
	ErrMalformed     = errors.New("malformed token")
	ErrBadSignature  = errors.New("bad signature")
	ErrWrongIssuer   = errors.New("wrong issuer")
	ErrWrongAudience = errors.New("wrong audience")
	ErrUnknownToken  = errors.New("unknown token") // well signed, but not issued by this server
	ErrRevoked       = errors.New("revoked")
	ErrExpired       = errors.New("expired")
)

// Reason names the verification failure in err for reports: "malformed",
// "bad signature", "wrong issuer", "wrong audience", "unknown token",
// "revoked", "expired"; "" for nil and "invalid" for anything else.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range []error{ErrMalformed, ErrBadSignature, ErrWrongIssuer, ErrWrongAudience, ErrUnknownToken, ErrRevoked, ErrExpired} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "invalid"
}

// Claims are an access token's claims as the server recorded them at issue.
// ExpiresAt is the exact (authoritative) expiry, not the rounded JWT "exp".
type Claims struct {
	Issuer    string
	Subject   string
	Audience  string
	ClientID  string
	Scope     string // space-separated
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Verify checks an access token (without the "Bearer " prefix) for the
// configured Resource; see VerifyFor.
func (s *Server) Verify(token string) (Claims, error) {
	return s.VerifyFor(token, s.cfg.Resource)
}

// VerifyFor checks an access token as the upstream identified by resource
// would: HS256 signature with this server's key, iss, aud containing
// resource, then the server-side record (revocation and exact expiry, judged
// by the server clock). Checks run in that order, so a revoked token that has
// since expired reports ErrRevoked, the more specific cause.
//
// Claim checks are done here rather than by the jwt parser because the
// record's exact expiry, not the whole-second "exp", is authoritative.
func (s *Server) VerifyFor(token, resource string) (Claims, error) {
	var jc jwtClaims
	_, err := jwt.ParseWithClaims(token, &jc,
		func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithoutClaimsValidation(),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	default: // signature invalid, alg not HS256 or "none", unverifiable
		return Claims{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if jc.Issuer != s.cfg.Issuer {
		return Claims{}, fmt.Errorf("%w: iss %q, want %q", ErrWrongIssuer, jc.Issuer, s.cfg.Issuer)
	}
	if !slices.Contains(jc.Audience, resource) {
		return Claims{}, fmt.Errorf("%w: aud %q, want %q", ErrWrongAudience, []string(jc.Audience), resource)
	}

	s.mu.Lock()
	rec := s.access[jc.ID]
	var c Claims
	revoked := false
	if rec != nil {
		c, revoked = rec.claims, rec.revoked
	}
	now := s.cfg.Now()
	s.mu.Unlock()

	switch {
	case rec == nil:
		return Claims{}, fmt.Errorf("%w: jti %q", ErrUnknownToken, jc.ID)
	case revoked:
		return c, fmt.Errorf("%w: %s", ErrRevoked, Fingerprint(token))
	case !now.Before(c.ExpiresAt):
		return c, fmt.Errorf("%w: %s expired %s ago", ErrExpired, Fingerprint(token), now.Sub(c.ExpiresAt))
	}
	return c, nil
}

// Revoke invalidates a token before its expiry, to model an AS that revokes
// early (AUTH-REF-004b). An access token is matched by its jti; a refresh
// token is revoked alone (its family survives). It reports whether the token
// was one this server issued.
func (s *Server) Revoke(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.refresh[token]; rec != nil {
		rec.revoked = true
		return true
	}
	var jc jwtClaims
	_, err := jwt.ParseWithClaims(token, &jc,
		func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithoutClaimsValidation(),
	)
	if err != nil {
		return false
	}
	if rec := s.access[jc.ID]; rec != nil {
		rec.revoked = true
		return true
	}
	return false
}

// RevokeAllAccess revokes every access token issued so far, for scenarios
// that revoke "whatever the proxy holds" without knowing which token that is.
func (s *Server) RevokeAllAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.access {
		rec.revoked = true
	}
}
