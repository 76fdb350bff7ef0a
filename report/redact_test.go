package report

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func rdDump(t *testing.T, run *Run) string {
	t.Helper()
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	// Undo JSON's \u003c escaping so placeholders read as they do in reports.
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint("token-one"), Fingerprint("token-two")
	if !regexp.MustCompile(`^<redacted:[0-9a-f]{8}>$`).MatchString(a) {
		t.Errorf("Fingerprint = %q", a)
	}
	if a != Fingerprint("token-one") || a == b {
		t.Errorf("fingerprints not stable or not distinct: %s %s", a, b)
	}
}

func TestRedactEverywhere(t *testing.T) {
	const (
		custom  = "upstream-s3cret-VALUE"
		escaped = "k+ey/with=chars-1234" // arrives percent-encoded in a URL
		cutOff  = "tail-secret-abcdefgh"
	)
	run := presFixtureRun()
	c := &run.Cases[1]
	c.Exchanges[0].Request.Headers = append(c.Exchanges[0].Request.Headers, Header{"X-Upstream-Token", custom})
	c.Exchanges[0].Request.Body = `{"params":{"key":"` + custom + `"}}`
	c.Exchanges[1].Request.URL += "&k=" + custom + "&e=k%2Bey%2Fwith%3Dchars-1234"
	c.Message += " (saw " + custom + ")"
	c.Observed = "token " + presJWT + " rejected"
	c.Exchanges[1].Response.Body = `{"detail":"expired", "partial":"` + cutOff[:12]
	c.Exchanges[1].Response.BodyTruncated = true
	// A body quoted inside a message: JSON inside a JSON string.
	run.Cases[5].Message = `body was "{\"access_token\":\"` + presAccess + `\"}"`
	run.Notes = append(run.Notes, "started with --token "+custom)

	Redact(run, []string{custom, escaped, cutOff, "on", ""})
	out := rdDump(t, run)

	for name, secret := range map[string]string{
		"explicit secret": custom, "url-escaped secret": "k%2Bey%2Fwith%3Dchars-1234",
		"cut-off secret prefix": cutOff[:12], "JWT": presJWT, "access token": presAccess,
		"refresh token": presRefresh, "API key": presAPIKey, "cookie": presCookie,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s survives redaction", name)
		}
	}
	fpJWT := Fingerprint(presJWT)
	fpCustom := Fingerprint(custom)
	checks := []struct {
		where, got, want string
	}{
		{"custom header", c.Exchanges[0].Request.Headers[4].Value, fpCustom},
		{"body", c.Exchanges[0].Request.Body, `{"params":{"key":"` + fpCustom + `"}}`},
		{"message", c.Message, "(saw " + fpCustom + ")"},
		{"URL query", c.Exchanges[1].Request.URL, "&k=" + fpCustom + "&e=" + Fingerprint(escaped)},
		{"note", run.Notes[1], "--token " + fpCustom},
		{"truncated body tail", c.Exchanges[1].Response.Body, `"partial":"` + Fingerprint(cutOff)},
		// Same JWT → same fingerprint on both hops, in the observed text, the
		// curl line, the SSE case and the proxy log.
		{"Authorization hop 1", c.Exchanges[0].Request.Headers[2].Value, "Bearer " + fpJWT},
		{"Authorization hop 2", c.Exchanges[1].Request.Headers[2].Value, "Bearer " + fpJWT},
		{"observed JWT", c.Observed, "token " + fpJWT + " rejected"},
		{"reproduce", c.Reproduce[1], "-H 'Authorization: Bearer " + fpJWT + "'"},
		{"other case", run.Cases[3].Exchanges[0].Request.Headers[1].Value, "Bearer " + fpJWT},
		{"proxy log", run.ProxyLog, "Authorization: Bearer " + fpJWT + "\n"},
		// Every cookie value goes (we cannot tell which one is the
		// session); names and Set-Cookie attributes stay as evidence.
		{"Cookie", c.Exchanges[1].Request.Headers[3].Value, "session=" + Fingerprint(presCookie) + "; theme=" + Fingerprint("dark")},
		{"Set-Cookie", c.Exchanges[1].Response.Headers[2].Value, "session=" + Fingerprint(presCookie) + "; Path=/; HttpOnly"},
		{"API key", run.Cases[6].Exchanges[0].Request.Headers[0].Value, Fingerprint(presAPIKey)},
		{"form body", run.Cases[5].Exchanges[0].Request.Body, "grant_type=refresh_token&refresh_token=" + Fingerprint(presRefresh)},
		{"JSON token response", run.Cases[5].Exchanges[0].Response.Body, `"access_token":"` + Fingerprint(presAccess) + `","token_type":"Bearer","refresh_token":"` + Fingerprint(presRefresh) + `"`},
		{"query access_token", run.Cases[5].Exchanges[1].Request.URL, "?access_token=" + Fingerprint(presAccess)},
		{"escaped JSON in message", run.Cases[5].Message, `{\"access_token\":\"` + Fingerprint(presAccess) + `\"}`},
	}
	for _, ck := range checks {
		if !strings.Contains(ck.got, ck.want) {
			t.Errorf("%s: %q does not contain %q", ck.where, ck.got, ck.want)
		}
	}
	// Too-short explicit secrets are ignored rather than shredding the text.
	if want := "control run failed: the mock authorization server refused the connection"; run.Cases[5].Reason != want {
		t.Errorf("reason = %q; the 2-byte secret \"on\" was applied", run.Cases[5].Reason)
	}
	// Non-secret evidence is untouched.
	if got := c.Exchanges[1].Response.Headers[0].Value; got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate changed: %q", got)
	}
}

func TestRedactKeepsEvidence(t *testing.T) {
	run := &Run{Cases: []Case{{
		ID: "X", Observed: "Authorization: <absent>", Expected: "Authorization: Bearer <token>",
		Exchanges: []Exchange{{Request: Request{Headers: []Header{
			{"Authorization", "Bearer"}, {"Authorization", ""}, {"authorization", "Basic dXNlcjpwYXNzd29yZA=="},
		}}}},
	}}}
	Redact(run, nil)
	c := run.Cases[0]
	if c.Observed != "Authorization: <absent>" || c.Expected != "Authorization: Bearer <token>" {
		t.Errorf("messages about headers were redacted: %q / %q", c.Observed, c.Expected)
	}
	h := c.Exchanges[0].Request.Headers
	if h[0].Value != "Bearer" || h[1].Value != "" {
		t.Errorf("empty credentials changed: %q %q", h[0].Value, h[1].Value)
	}
	if h[2].Value != "Basic "+Fingerprint("dXNlcjpwYXNzd29yZA==") {
		t.Errorf("lower-case Basic header: %q", h[2].Value)
	}
}

func TestRedactIdempotent(t *testing.T) {
	once := presFixtureRun()
	Redact(once, []string{"tools/list"})
	twice := presFixtureRun()
	Redact(twice, []string{"tools/list"})
	Redact(twice, []string{"tools/list"})
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("second Redact changed the run:\n%s\n%s", rdDump(t, once), rdDump(t, twice))
	}
	Redact(nil, nil) // must not panic
}

func TestRedactUserinfo(t *testing.T) {
	run := &Run{Proxy: Proxy{Target: "https://admin:hunter2hunter2@proxy.example/mcp"}}
	Redact(run, nil)
	if want := "https://admin:" + Fingerprint("hunter2hunter2") + "@proxy.example/mcp"; run.Proxy.Target != want {
		t.Errorf("target = %q, want %q", run.Proxy.Target, want)
	}
}

// A JWT seen nowhere in a credential header is still found by its shape.
func TestRedactJWTShapedOnly(t *testing.T) {
	const idToken = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUifQ.MEUCIQDx"
	const unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
	run := &Run{Cases: []Case{{
		ID:        "X",
		Observed:  "upstream saw id_token_hint=" + idToken + " and " + unsigned,
		Exchanges: []Exchange{{SSE: []SSEEvent{{Data: `{"jwt":"` + idToken + `"}`}}}},
	}}}
	Redact(run, nil)
	c := run.Cases[0]
	if want := "upstream saw id_token_hint=" + Fingerprint(idToken) + " and " + Fingerprint(unsigned); c.Observed != want {
		t.Errorf("observed = %q, want %q", c.Observed, want)
	}
	if want := `{"jwt":"` + Fingerprint(idToken) + `"}`; c.Exchanges[0].SSE[0].Data != want {
		t.Errorf("SSE data = %q, want %q", c.Exchanges[0].SSE[0].Data, want)
	}
}

func TestRedactBrowserCheck(t *testing.T) {
	const key = "k3y-Secret-1234"
	run := &Run{Cases: []Case{{ID: "CORS-001", Browser: &BrowserCheck{
		Summary: "blocked at http://127.0.0.1:1/mcp?api_key=" + key,
		Console: []string{"Access to XMLHttpRequest at 'http://127.0.0.1:1/mcp?api_key=" + key + "' from origin 'http://localhost:2' has been blocked"},
		Steps:   []BrowserStep{{Name: "initialize", Request: "POST http://127.0.0.1:1/mcp?api_key=" + key, Read: []Header{{Name: "X-API-Key", Value: key}}}},
	}}}}
	Redact(run, []string{key})
	b := run.Cases[0].Browser
	for _, s := range []string{b.Summary, b.Console[0], b.Steps[0].Request, b.Steps[0].Read[0].Value} {
		if strings.Contains(s, key) {
			t.Errorf("key left in %q", s)
		}
	}
}
