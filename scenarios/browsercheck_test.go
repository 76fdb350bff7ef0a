package scenarios

import "testing"

// Which CORS error a browser reports decides whose finding a failed step
// is: a preflight refusing the API key header is APIKEY-003's, not
// CORS-004's; a wildcard origin is a credentials finding only on a
// credentialed request.
func TestCORSClass(t *testing.T) {
	for _, tc := range []struct {
		code, param  string
		credentialed bool
		want         failClass
	}{
		{"PreflightInvalidStatus", "", false, failPreflight},
		{"PreflightMissingAllowOriginHeader", "", false, failPreflight},
		{"MethodDisallowedByPreflightResponse", "DELETE", false, failPreflightMethod},
		{"HeaderDisallowedByPreflightResponse", "authorization", false, failPreflightHeader},
		{"HeaderDisallowedByPreflightResponse", "Last-Event-ID", false, failPreflightHeader},
		{"HeaderDisallowedByPreflightResponse", "x-api-key", false, failPreflightOtherHeader},
		{"PreflightWildcardOriginNotAllowed", "", true, failCredentials},
		{"InvalidAllowCredentials", "", true, failCredentials},
		{"WildcardOriginNotAllowed", "", false, failActual},
		{"MissingAllowOriginHeader", "", false, failActual},
		{"", "", false, failNetwork},
	} {
		if got := corsClass(tc.code, tc.param, tc.credentialed); got != tc.want {
			t.Errorf("corsClass(%q, %q, %v) = %s, want %s", tc.code, tc.param, tc.credentialed, got, tc.want)
		}
	}
}
